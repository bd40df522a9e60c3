package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestStaleWorkCleaned: a build removes the work directory a dead build
// left in the same parent (and takes away a mount left in it), however
// young, and never touches one whose build still runs, one kept for a
// look, or one still being made aside.
func TestStaleWorkCleaned(t *testing.T) {
	parent := t.TempDir()
	old := time.Now().Add(-time.Hour)
	dirs := map[string]string{}
	for _, name := range []string{"dead", "young-dead", "running", "kept", ".aside"} {
		dir := filepath.Join(parent, "builder-"+name)
		if name == ".aside" {
			dir = filepath.Join(parent, ".builder-aside")
		}
		dirs[name] = dir
		if err := testenv.WriteFiles(dir, 0o644, map[string]string{workLockName: "", "layers/junk": "x", "overlays/step-1/upper/f": "y"}); err != nil {
			t.Fatal(err)
		}
		if name != "young-dead" && name != ".aside" {
			os.Chtimes(filepath.Join(dir, workLockName), old, old)
		}
	}
	if err := os.WriteFile(filepath.Join(dirs["kept"], workKeepName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	lock, err := lockWork(dirs["running"])
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	mounted := false
	if os.Geteuid() == 0 {
		target := filepath.Join(dirs["dead"], "overlays", "step-1")
		if err := unix.Mount("tmpfs", target, "tmpfs", 0, ""); err == nil {
			mounted = true
			t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
		}
	}
	mustBuildIn(t, "FROM scratch\nLABEL a=b\n", map[string]string{}, func(o *Options) { o.WorkDir = parent })
	for _, name := range []string{"dead", "young-dead"} {
		if _, err := os.Stat(dirs[name]); !os.IsNotExist(err) {
			t.Errorf("the %s build's work directory is still there (mounted %v): %v", name, mounted, err)
		}
	}
	for _, name := range []string{"running", "kept", ".aside"} {
		if _, err := os.Stat(filepath.Join(dirs[name], "layers/junk")); err != nil {
			t.Errorf("the %s build's work directory was touched: %v", name, err)
		}
	}
}
