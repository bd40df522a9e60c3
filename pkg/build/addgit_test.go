package build

import (
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/cache"
)

// gitServer serves a bare repository over smart HTTP with git's own
// http-backend, and returns its URL and a function that commits files
// to its main branch (returning the commit).
func gitServer(t *testing.T) (string, func(files map[string]string, tag string) string) {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("needs git (Debian package git)")
	}
	execPath, err := exec.Command(gitBin, "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	work := filepath.Join(root, "work")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(root, "init", "-q", "--bare", "-b", "main", "repo.git")
	git(root, "init", "-q", "-b", "main", "work")
	srv := httptest.NewServer(&cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	})
	t.Cleanup(srv.Close)
	commit := func(files map[string]string, tag string) string {
		t.Helper()
		if err := testenv.WriteFiles(work, 0o644, files); err != nil {
			t.Fatal(err)
		}
		git(work, "add", "-A")
		git(work, "commit", "-q", "-m", "c")
		if tag != "" {
			git(work, "tag", tag)
		}
		git(work, "push", "-q", "--tags", filepath.Join(root, "repo.git"), "main")
		return git(work, "rev-parse", "HEAD")
	}
	return srv.URL + "/repo.git", commit
}

// TestAddGit adds a git repository as BuildKit does: a tag's
// subdirectory, the whole tree with .git kept, a branch pinned by
// --checksum; the cache asks the remote which commit a ref names.
func TestAddGit(t *testing.T) {
	url, commit := gitServer(t)
	first := commit(map[string]string{"a.txt": "a1", "sub/b.txt": "b1"}, "v1")
	commit(map[string]string{"a.txt": "a2"}, "")
	dir := t.TempDir()
	df := "FROM scratch\n" +
		"ADD " + url + "#v1:sub /tagged/\n" +
		"ADD --keep-git-dir=true " + url + " /full/\n" +
		"ADD --checksum=" + first + " " + url + "#v1 /pinned/\n"
	write(t, dir, "Dockerfile", df)
	store := &cache.Layout{Dir: t.TempDir()}
	cb := &cachedBuild{t: t, dir: dir, cache: store}
	fs := flatten(t, cb.build().Image)
	for p, want := range map[string]string{"tagged/b.txt": "b1", "full/a.txt": "a2", "pinned/a.txt": "a1"} {
		if got := fs[p].Body; got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if _, ok := fs["full/.git/HEAD"]; !ok {
		t.Error("--keep-git-dir=true: no .git")
	}
	for p := range fs {
		if strings.HasPrefix(p, "tagged/.git") || strings.HasPrefix(p, "tagged/a.txt") {
			t.Errorf("%s: want sub's files only, without .git", p)
		}
	}
	if e := fs["tagged/b.txt"]; e.UID != 0 || e.GID != 0 {
		t.Errorf("tagged/b.txt belongs to %d:%d, want root", e.UID, e.GID)
	}

	again := &cachedBuild{t: t, dir: dir, cache: store}
	again.build()
	if n := len(cachedSteps(again.output)); n != 3 {
		t.Errorf("nothing moved and %d of 3 ADDs were cached", n)
	}
	commit(map[string]string{"a.txt": "a3"}, "")
	moved := &cachedBuild{t: t, dir: dir, cache: store}
	fs = flatten(t, moved.build().Image)
	if got := fs["full/a.txt"].Body; got != "a3" {
		t.Errorf("after a new commit on main: full/a.txt = %q, want a3 (a stale cache hit?)", got)
	}

	if _, err := buildIn(t, "FROM scratch\nADD --checksum=0000000000000000000000000000000000000000 "+url+" /x/\n", map[string]string{}); err == nil || !strings.Contains(err.Error(), "expected checksum to match") {
		t.Errorf("a wrong --checksum: err = %v", err)
	}
}
