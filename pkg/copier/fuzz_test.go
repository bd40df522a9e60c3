package copier

import (
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
