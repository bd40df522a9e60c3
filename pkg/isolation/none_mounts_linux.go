package isolation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/filecopy"
)

// In isolation none nothing can be mounted (the Pod grants no
// CAP_SYS_ADMIN), so a step's mounts are put in place as files instead,
// for the step only: what the root has at a target is set aside (renamed
// in its own directory), the mount's contents take its place, and
// afterwards everything is put back as it was, directory times too. A
// writable source (a cache) is moved in and back where it shares the
// filesystem, else copied in and back; a read-only one (a bind, a
// read-only cache) is copied in, and what the step writes there is
// thrown away; a tmpfs is an empty directory. The caller leaves paths
// under the targets out of the step's changes.

// placed is one mount put in place, and how to take it away.
type placed struct {
	m       Mount
	target  string
	aside   string    // where the root's own target went; "" if none
	made    []string  // parent directories made for it, outermost first
	parent  string    // the nearest directory that existed
	mtime   time.Time // parent's mtime before
	movedIn bool      // the source itself was renamed to target
}

// placeMounts puts mounts in place, parents first, and returns what
// takes them away again (whatever happened, even on error).
func placeMounts(mounts []Mount) (func() error, error) {
	sorted := byDepth(mounts)
	var done []*placed
	undo := func() error {
		var errs []error
		for i := len(done) - 1; i >= 0; i-- {
			errs = append(errs, done[i].remove())
		}
		return errors.Join(errs...)
	}
	for i, m := range sorted {
		p, err := place(m, i)
		if p != nil {
			done = append(done, p)
		}
		if err != nil {
			return undo, fmt.Errorf("mounting at %s: %w", m.Target, err)
		}
	}
	return undo, nil
}

func place(m Mount, n int) (*placed, error) {
	target := m.Target
	if target == "/" {
		return nil, errors.New("cannot mount over the root filesystem")
	}
	p := &placed{m: m, target: target}
	// The nearest existing ancestor, and the parents to make.
	for d := filepath.Dir(target); ; d = filepath.Dir(d) {
		fi, err := os.Lstat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("%s is not a directory", d)
			}
			p.parent, p.mtime = d, fi.ModTime()
			break
		}
		p.made = append([]string{d}, p.made...)
	}
	if _, err := os.Lstat(target); err == nil {
		p.aside = target + ".builder-mount-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(n)
		if err := os.Rename(target, p.aside); err != nil {
			return nil, err
		}
	}
	for _, d := range p.made {
		if err := os.Mkdir(d, 0o755); err != nil {
			return p, err
		}
	}
	switch {
	case m.Source == "":
		if err := os.Mkdir(target, 0o1777); err != nil {
			return p, err
		}
		return p, os.Chmod(target, 0o1777|os.ModeSticky)
	case !m.ReadOnly:
		err := os.Rename(m.Source, target)
		if err == nil {
			p.movedIn = true
			return p, nil
		}
		if !errors.Is(err, syscall.EXDEV) {
			return p, err
		}
	}
	return p, copyTree(m.Source, target)
}

// remove takes the mount away and puts the root's own target back.
func (p *placed) remove() error {
	var errs []error
	switch {
	case p.movedIn:
		errs = append(errs, os.Rename(p.target, p.m.Source))
	case p.m.Source != "" && !p.m.ReadOnly:
		// Copied in from another filesystem: the cache gets what the step
		// left, by a copy aside and a rename, so a failure keeps the old.
		next := p.m.Source + ".next"
		os.RemoveAll(next)
		if err := copyTree(p.target, next); err != nil {
			errs = append(errs, err)
			break
		}
		old := p.m.Source + ".old"
		if err := os.Rename(p.m.Source, old); err != nil {
			errs = append(errs, err)
			break
		}
		errs = append(errs, os.Rename(next, p.m.Source), os.RemoveAll(old))
	}
	if !p.movedIn {
		errs = append(errs, os.RemoveAll(p.target))
	}
	if p.aside != "" {
		errs = append(errs, os.Rename(p.aside, p.target))
	}
	for i := len(p.made) - 1; i >= 0; i-- {
		errs = append(errs, os.Remove(p.made[i]))
	}
	if p.parent != "" {
		errs = append(errs, os.Chtimes(p.parent, p.mtime, p.mtime))
	}
	return errors.Join(errs...)
}

// copyTree copies src (a directory, a file or a symlink) to dst with its
// modes, owners and times; dst must not exist.
func copyTree(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.IsDir():
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := copyTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
	case fi.Mode()&os.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(link, dst); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		if err := filecopy.Content(src, dst); err != nil {
			return err
		}
	case fi.Mode()&os.ModeSocket != 0:
		// An ssh agent's: it works moved, never copied.
		return fmt.Errorf("%s is a socket on another filesystem than the root: it cannot be put in place", src)
	default:
		return nil // fifos, devices: not copied
	}
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil && os.Geteuid() == 0 {
		return err
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}
