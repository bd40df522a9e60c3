package build

import (
	"strings"
	"testing"

	"github.com/buildcrew/builder/pkg/cache"
)

// TestCopyLink: a --link layer holds only what was copied (fresh parent
// directories, nothing of the base's), the stage still sees both, and a
// cached --link layer is reused over another base while the steps after
// it are not.
func TestCopyLink(t *testing.T) {
	base1 := busybox(t, file{name: "app/", mode: 0o700, uid: 1000, gid: 1000}, file{name: "app/base", body: "one"})
	base2 := busybox(t, file{name: "etc/other", body: "two"})
	dir := t.TempDir()
	store := &cache.Layout{Dir: t.TempDir()}
	build := func(base string) *cachedBuild {
		t.Helper()
		write(t, dir, "Dockerfile", "FROM "+base+"\nCOPY --link f.txt /app/f.txt\nRUN ls /app > /listing\n")
		cb := &cachedBuild{t: t, dir: dir, cache: store}
		cb.build()
		return cb
	}
	write(t, dir, "f.txt", "copied")
	first := build(base1)
	res := first.build()
	names := layerNames(t, res.Image, 2) // the two busybox layers
	if len(names) < 1 || strings.Join(names[0], " ") != "app/ app/f.txt" {
		t.Fatalf("the --link layer holds %v, want app/ and app/f.txt only", names)
	}
	fs := flatten(t, res.Image)
	if got := fs["listing"].Body; got != "base\nf.txt\n" {
		t.Errorf("after COPY --link the stage lists %q, want the base's file and the copy", got)
	}
	if e := fs["app"]; e.Mode&0o777 != 0o755 || e.UID != 0 {
		t.Errorf("/app is %o %d: want the linked layer's fresh 0755 root directory on top", e.Mode, e.UID)
	}
	second := build(base2)
	cached := cachedSteps(second.output)
	if len(cached) != 1 || !strings.HasPrefix(cached[0], "COPY --link") && !strings.HasPrefix(cached[0], "COPY f.txt") {
		t.Errorf("over another base, cached steps %v: want the --link COPY alone", cached)
	}
	if second.runs != 1 {
		t.Errorf("the RUN after the linked COPY ran %d times over a new base, want 1", second.runs)
	}

	_, err := buildIn(t, "FROM "+base1+"\nCOPY --link --chown=app f.txt /f\n", map[string]string{"f.txt": "x"})
	if err == nil || !strings.Contains(err.Error(), "can't be resolved when used with --link") {
		t.Errorf("--link with --chown by name: err = %v", err)
	}
}
