package isolation

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestNoneMounts puts a step's mounts in place at / without mounting:
// the step sees the cache, a read-only bind's copy and an empty tmpfs;
// afterwards the cache holds what the step wrote, the bind's source is
// untouched, and the root is as it was, directory times included.
func TestNoneMounts(t *testing.T) {
	for _, tc := range []struct{ name, cacheParent string }{
		{"same filesystem", t.TempDir()},
		{"another filesystem", "/dev/shm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.cacheParent); err != nil {
				t.Skipf("no %s here", tc.cacheParent)
			}
			root := t.TempDir() // stands for the container's "/"
			if err := testenv.WriteFiles(root, 0o644, map[string]string{"var/cache/own": "the root's", "etc/conf": "c"}); err != nil {
				t.Fatal(err)
			}
			cache, err := os.MkdirTemp(tc.cacheParent, "cache-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(cache)
			bind := t.TempDir()
			if err := testenv.WriteFiles(cache, 0o644, map[string]string{"old": "from before"}); err != nil {
				t.Fatal(err)
			}
			if err := testenv.WriteFiles(bind, 0o644, map[string]string{"src.txt": "source"}); err != nil {
				t.Fatal(err)
			}
			old := time.Unix(1_600_000_000, 0)
			for _, d := range []string{"var", "var/cache", "etc", "."} {
				os.Chtimes(filepath.Join(root, d), old, old)
			}
			before, err := testenv.TreeSums(root)
			if err != nil {
				t.Fatal(err)
			}
			script := `set -e
cat ` + root + `/var/cache/old > ` + root + `/../seen-cache
! test -e ` + root + `/var/cache/own
echo new > ` + root + `/var/cache/new
cat ` + root + `/src/src.txt > ` + root + `/../seen-bind
echo scribble > ` + root + `/src/src.txt
test -d ` + root + `/t && ! ls -A ` + root + `/t | grep -q . && echo x > ` + root + `/t/x
test -d ` + root + `/deep/er/mount
`
			out, err := runNone(context.Background(), t, script, func(s *Spec) {
				s.Mounts = []Mount{
					{Target: root + "/var/cache", Source: cache},
					{Target: root + "/src", Source: bind, ReadOnly: true},
					{Target: root + "/t"},
					{Target: root + "/deep/er/mount"},
				}
			})
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for file, want := range map[string]string{"seen-cache": "from before", "seen-bind": "source"} {
				got, _ := os.ReadFile(filepath.Join(root, "..", file))
				if string(got) != want {
					t.Errorf("the step saw %q in %s, want %q", got, file, want)
				}
			}
			after, err := testenv.TreeSums(root)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("the root changed (-before +after):\n%s", diff)
			}
			if got, _ := os.ReadFile(filepath.Join(cache, "new")); string(got) != "new\n" {
				t.Errorf("the cache lacks what the step wrote: %q", got)
			}
			if got, _ := os.ReadFile(filepath.Join(bind, "src.txt")); string(got) != "source" {
				t.Errorf("the read-only bind's source changed: %q", got)
			}
		})
	}
}
