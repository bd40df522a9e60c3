package copier

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// FuzzDockerignore reads arbitrary .dockerignore files and matches paths
// against them the way the context does: nothing may panic, and the
// context root itself is never ignored.
func FuzzDockerignore(f *testing.F) {
	f.Add("*\n!dist/kaniko\n", "dist/kaniko/builder")
	f.Add("**/*.go\n!main.go\n# comment\n", "a/b/c.go")
	f.Add("[a-\n", "a")
	f.Add("../x\n/abs\n./rel\n", "x")
	f.Fuzz(func(t *testing.T, ignore, p string) {
		patterns, err := ignorefile.ReadAll(strings.NewReader(ignore))
		if err != nil || len(patterns) == 0 {
			return
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return
		}
		s := &Source{Ignore: pm, Context: true}
		s.Ignored(p)
		if s.Ignored("") {
			t.Error("the context root was ignored")
		}
	})
}

// FuzzResolve resolves arbitrary COPY sources, under arbitrary
// .dockerignore files, in a context whose symlinks point out of it
// (absolute, relative, into a loop). Nothing may panic, every match must
// lie inside the context, and no match may be a path the .dockerignore
// leaves out.
func FuzzResolve(f *testing.F) {
	root := f.TempDir()
	for _, d := range []string{"src/a/b", "docs", "dist/kaniko"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{"src/a/b/c.go", "src/main.go", "docs/x.md", "dist/kaniko/builder", "secret.key"} {
		if err := os.WriteFile(filepath.Join(root, p), []byte(p), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	for link, to := range map[string]string{"etc": "/etc", "up": "../../..", "src/loop": "loop", "src/back": "../docs", "abs": "/src/a"} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			f.Fatal(err)
		}
	}
	f.Add("", "src/*.go")
	f.Add("*\n!dist/kaniko\n", "dist/kaniko/builder")
	f.Add("**/*.go\n!src/main.go\n", "src/*")
	f.Add("secret.key\n", "*")
	f.Add("", "etc/passwd")
	f.Add("", "up/*")
	f.Add("", "src/back/*.md")
	f.Add("docs\n", "abs/b/*.go")
	f.Add("src\n", "abs/b/c.go")
	f.Add("", "src/loop/x")
	f.Fuzz(func(t *testing.T, ignore, src string) {
		s := &Source{Root: root, Context: true}
		if patterns, err := ignorefile.ReadAll(strings.NewReader(ignore)); err == nil && len(patterns) > 0 {
			if pm, err := patternmatcher.New(patterns); err == nil {
				s.Ignore = pm
			}
		}
		matches, err := s.Resolve(src)
		if err != nil {
			return
		}
		for _, m := range matches {
			if m.Host != root && !strings.HasPrefix(m.Host, root+string(filepath.Separator)) {
				t.Fatalf("COPY %q under %q matched %s, outside the context", src, ignore, m.Host)
			}
			real, _ := filepath.Rel(root, m.Host)
			if real == "." {
				real = ""
			}
			if s.Ignored(m.Rel) || s.Ignored(filepath.ToSlash(real)) {
				t.Fatalf("COPY %q matched %s (%s), which %q leaves out", src, m.Rel, real, ignore)
			}
		}
	})
}
