package isolation

import (
	"errors"
	"fmt"
	"path"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stubs creates the mount points a step needs but the image lacks, and
// takes them away afterwards so they never reach a layer. A directory a
// stub was made in gets its mtime back if the step left it alone. Every
// operation goes through descriptors opened by openDir and checks the
// file's identity: what the step renamed, replaced or linked elsewhere is
// left as the step left it, and nothing outside the root is touched.
type stubs struct {
	root    string
	created []stub // parents first
	dirs    []touchedDir
}

type stub struct {
	rel string // slash-separated, absolute inside the root
	id  identity
	dir bool
}

type touchedDir struct {
	rel          string
	id           identity
	before, made unix.Timespec // mtime before the stub, and right after it
}

// ensure makes rel (a directory when dir is set, else an empty file),
// creating missing parents. It reports false when something that is not of
// the wanted kind is in the way, or a symlink is on the way (e.g.
// resolv.conf as a symlink): the caller then skips that mount.
func (s *stubs) ensure(rel string, dir bool) (bool, error) {
	rel = path.Clean("/" + rel)
	parentRel, name := path.Split(rel)
	parent, err := openDir(s.root, parentRel)
	if errors.Is(err, errNotPlain) {
		return false, nil
	}
	if errors.Is(err, unix.ENOENT) {
		if ok, err := s.ensure(parentRel, true); err != nil || !ok {
			return ok, err
		}
		parent, err = openDir(s.root, parentRel)
	}
	if err != nil {
		return false, err
	}
	defer parent.Close()
	if st, err := statAt(parent, name); err == nil {
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
		return isDir == dir && !isLink, nil
	} else if !errors.Is(err, unix.ENOENT) {
		return false, err
	}
	var pst unix.Stat_t
	if err := unix.Fstat(int(parent.Fd()), &pst); err != nil {
		return false, err
	}
	pfd := int(parent.Fd())
	if dir {
		err = unix.Mkdirat(pfd, name, 0o755)
	} else {
		var fd int
		if fd, err = unix.Openat(pfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644); err == nil {
			err = unix.Close(fd)
		}
	}
	if err != nil {
		return false, fmt.Errorf("creating mount point %s: %w", rel, err)
	}
	st, err := statAt(parent, name)
	if err != nil {
		return false, fmt.Errorf("creating mount point %s: %w", rel, err)
	}
	s.created = append(s.created, stub{rel: rel, id: idOf(&st), dir: dir})
	var after unix.Stat_t
	if err := unix.Fstat(pfd, &after); err == nil {
		s.touch(path.Clean(parentRel), idOf(&pst), pst.Mtim, after.Mtim)
	}
	return true, nil
}

// touch notes a directory a stub was made in: its first mtime, and its
// mtime after the latest stub.
func (s *stubs) touch(rel string, id identity, before, made unix.Timespec) {
	for i := range s.dirs {
		if s.dirs[i].rel == rel {
			s.dirs[i].made = made
			return
		}
	}
	s.dirs = append(s.dirs, touchedDir{rel: rel, id: id, before: before, made: made})
}

// remove deletes the stubs, newest first, and puts back directory mtimes.
// A stub is removed only where it still is, unreplaced, reached without a
// symlink; a stub the step filled (a directory no longer empty) stays.
func (s *stubs) remove() error {
	var unchanged []touchedDir
	for _, d := range s.dirs {
		f, err := openDir(s.root, d.rel)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil && idOf(&st) == d.id && st.Mtim == d.made {
			unchanged = append(unchanged, d)
		}
		f.Close()
	}
	var errs []error
	for i := len(s.created) - 1; i >= 0; i-- {
		if err := s.removeStub(s.created[i]); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(unchanged) - 1; i >= 0; i-- {
		if err := restoreMtime(s.root, unchanged[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *stubs) removeStub(st stub) error {
	parentRel, name := path.Split(st.rel)
	parent, err := openDir(s.root, parentRel)
	if err != nil {
		return nil // gone, or moved behind a symlink by the step: its own now
	}
	defer parent.Close()
	now, err := statAt(parent, name)
	if err != nil || idOf(&now) != st.id {
		return nil
	}
	flags := 0
	if st.dir {
		flags = unix.AT_REMOVEDIR
	}
	err = unix.Unlinkat(int(parent.Fd()), name, flags)
	if err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		return nil
	}
	return fmt.Errorf("removing mount point %s: %w", st.rel, err)
}

// restoreMtime sets a directory's times to d.before through a descriptor.
func restoreMtime(root string, d touchedDir) error {
	f, err := openDir(root, d.rel)
	if err != nil {
		return nil
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || idOf(&st) != d.id {
		return nil
	}
	ts := [2]unix.Timespec{d.before, d.before}
	// utimensat(fd, NULL, ...) sets the times of fd itself.
	if _, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); errno != 0 {
		return fmt.Errorf("restoring the mtime of %s: %w", d.rel, errno)
	}
	return nil
}
