package build

import (
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/buildcrew/builder/pkg/isolation"
	"golang.org/x/sys/unix"
)

// The work directory of a build that died (killed, out of memory, a
// cancelled pipeline's SIGKILL) is found and removed by the next build
// in the same parent: every build holds a lock on its own work directory
// for as long as it lives, so one that is still running is never
// touched. Overlay mounts it left are taken away first. A directory kept
// for a look (KeepWorkDir) is marked and left alone.
const (
	workLockName = ".lock"
	workKeepName = ".keep"
)

// newWorkDir makes a build's work directory in parent, locked: it is
// made aside (".builder-*"), locked, and only then given its name, so
// that a "builder-*" directory whose lock is free belongs to a build that
// died, at any age.
func newWorkDir(parent string) (string, *os.File, error) {
	aside, err := os.MkdirTemp(parent, ".builder-")
	if err != nil {
		return "", nil, err
	}
	lock, err := lockWork(aside)
	if err != nil {
		os.RemoveAll(aside)
		return "", nil, err
	}
	dir := filepath.Join(parent, strings.TrimPrefix(filepath.Base(aside), "."))
	if err := os.Rename(aside, dir); err != nil {
		lock.Close()
		os.RemoveAll(aside)
		return "", nil, err
	}
	return dir, lock, nil
}

// lockWork takes the lock of the work directory dir.
func lockWork(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, workLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// cleanStaleWork removes the work directories in parent whose builds are
// gone.
func cleanStaleWork(parent string, log *slog.Logger) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, "builder-") && !strings.HasPrefix(name, ".builder-") || name == "builder-cache-mounts" {
			continue
		}
		dir := filepath.Join(parent, name)
		if _, err := os.Stat(filepath.Join(dir, workKeepName)); err == nil {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, workLockName))
		if err != nil {
			continue // not a work directory this builder made
		}
		if strings.HasPrefix(name, ".") && time.Since(fi.ModTime()) < time.Minute {
			// Still being made aside: its build may not hold the lock
			// yet. A named one was locked before it got its name.
			continue
		}
		lock, err := lockWork(dir)
		if err != nil {
			continue // its build is running
		}
		err = unmountUnder(dir)
		if err == nil {
			err = os.RemoveAll(dir)
		}
		lock.Close()
		log.Debug("removed the work directory of a build that died", "dir", dir, "err", err)
	}
}

// unmountUnder takes away every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mounts, err := isolation.MountPoints()
	if err != nil {
		return err
	}
	var points []string
	for _, p := range mounts {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			return err
		}
	}
	return nil
}
