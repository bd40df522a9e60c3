package isolation

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// stubs creates the mount points a step needs but the image lacks, and
// takes them away afterwards so they never reach a layer. A directory a
// stub was made in gets its mtime back if the step left it alone.
type stubs struct {
	root    string
	created []string // host paths, parents first
	dirs    []touchedDir
}

type touchedDir struct {
	path         string
	before, made time.Time // mtime before the stub, and right after it
}

// ensure makes rel (a directory when dir is set, else an empty file),
// creating missing parents. It reports false when something that is not of
// the wanted kind is in the way (e.g. resolv.conf as a symlink): the caller
// then skips that mount.
func (s *stubs) ensure(rel string, dir bool) (bool, error) {
	host := filepath.Join(s.root, filepath.FromSlash(rel))
	// A symlink anywhere above the mount point could lead outside the
	// root: such a mount is skipped rather than followed.
	if resolved, err := securejoin.SecureJoin(s.root, path.Dir(rel)); err != nil || resolved != filepath.Dir(host) {
		return false, nil
	}
	fi, err := os.Lstat(host)
	if err == nil {
		return fi.IsDir() == dir && fi.Mode()&os.ModeSymlink == 0, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if parent := path.Dir(rel); parent != "/" && parent != "." {
		ok, err := s.ensure(parent, true)
		if err != nil || !ok {
			return ok, err
		}
	}
	parentHost := filepath.Dir(host)
	pfi, err := os.Stat(parentHost)
	if err != nil {
		return false, err
	}
	if dir {
		err = os.Mkdir(host, 0o755)
	} else {
		var f *os.File
		if f, err = os.OpenFile(host, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return false, fmt.Errorf("creating mount point %s: %w", rel, err)
	}
	s.created = append(s.created, host)
	if after, err := os.Stat(parentHost); err == nil {
		s.touch(parentHost, pfi.ModTime(), after.ModTime())
	}
	return true, nil
}

// touch notes a directory a stub was made in: its first mtime, and its
// mtime after the latest stub.
func (s *stubs) touch(dir string, before, made time.Time) {
	for i := range s.dirs {
		if s.dirs[i].path == dir {
			s.dirs[i].made = made
			return
		}
	}
	s.dirs = append(s.dirs, touchedDir{path: dir, before: before, made: made})
}

// remove deletes the stubs, newest first, and puts back directory mtimes.
// keep names stubs that must stay (a step wrote to them).
func (s *stubs) remove(keep map[string]bool) error {
	unchanged := map[string]bool{}
	for _, d := range s.dirs {
		if fi, err := os.Stat(d.path); err == nil && fi.ModTime().Equal(d.made) {
			unchanged[d.path] = true
		}
	}
	var errs []error
	for i := len(s.created) - 1; i >= 0; i-- {
		if keep[s.created[i]] {
			continue
		}
		// Remove, not RemoveAll: a stub the step filled is left alone.
		if err := os.Remove(s.created[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for i := len(s.dirs) - 1; i >= 0; i-- {
		d := s.dirs[i]
		if unchanged[d.path] {
			if err := os.Chtimes(d.path, d.before, d.before); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
