package overlay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
	"github.com/buildcrew/builder/pkg/layers"
)

// Stack makes dst, which must not exist, hold what the layers in dirs
// hold, bottom first, as unpacking their archives in order would: each
// directory is a layer alone in overlayfs's form (see
// layers.ExtractOptions.OverlayForm), so that an image's layers unpacked
// once serve every image that has them. Every file in dst is a hard link
// to a layer's and every directory is new, as with Clone.
//
// Like extraction, and unlike overlayfs, a directory a layer only implies
// follows a symlink lower layers have in its place (a usr-merged /lib) and
// leaves the metadata lower layers gave it alone. removeDir takes away a
// directory a layer deletes or replaces (nil: os.RemoveAll).
func Stack(ctx context.Context, dst string, dirs []string, removeDir func(string) error) error {
	if removeDir == nil {
		removeDir = os.RemoveAll
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	s := &stacker{root: dst, merger: merger{removeDir: removeDir}}
	for i, d := range dirs {
		lay := s.dir
		if i == 0 {
			lay = func(ctx context.Context, src, dst string, _ bool) error { return s.freshStack(ctx, src, dst) }
		}
		if err := lay(ctx, d, dst, true); err != nil {
			return fmt.Errorf("stacking the layer %s: %w", d, err)
		}
		// Last, as extraction does: a later entry can reach a directory
		// through a symlink and change its times.
		for _, t := range s.times {
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, t.path, t.times[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return &os.PathError{Op: "utimes", Path: t.path, Err: err}
			}
		}
		s.times = s.times[:0]
	}
	return nil
}

type stacker struct {
	merger
	root  string
	times []dirTimes // the layer's directories, to set once it is stacked
}

type dirTimes struct {
	path  string
	times [2]unix.Timespec
}

// dir lays the layer's directory src over the directory dst. implicit
// keeps dst's own mode, owner and attributes.
func (s *stacker) dir(ctx context.Context, src, dst string, implicit bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: src, Err: err}
	}
	if err := eachEntry(src, dst, func(up, low string) error { return s.entry(ctx, up, low) }); err != nil {
		return err
	}
	if implicit {
		// The lower layers' metadata stays; the times change with the
		// entries, as when an archive is unpacked over them.
		return nil
	}
	s.times = append(s.times, dirTimes{dst, [2]unix.Timespec{st.Atim, st.Mtim}})
	return setDirMetadata(&st, src, dst)
}

func (s *stacker) entry(ctx context.Context, src, dst string) error {
	u, l, exists, err := lstatPair(src, dst)
	if err != nil {
		return err
	}
	if isWhiteout(&u) {
		if exists {
			return s.remove(dst, &l)
		}
		return nil
	}
	if u.Mode&unix.S_IFMT != unix.S_IFDIR {
		if exists {
			if err := s.remove(dst, &l); err != nil {
				return err
			}
		}
		return os.Link(src, dst)
	}
	opaque, err := isOpaque(src)
	if err != nil {
		return err
	}
	implicit, err := hasMark(src, xattr.Implicit)
	if err != nil {
		return err
	}
	lowerDir := exists && l.Mode&unix.S_IFMT == unix.S_IFDIR
	whiteoutsOnly := false
	if implicit && !opaque && !lowerDir {
		some, err := holdsMoreThanWhiteouts(src)
		if err != nil {
			return err
		}
		whiteoutsOnly = !some
	}
	if exists && !lowerDir && implicit {
		// A path below went through what is here, as extraction resolves
		// it: a symlink to a directory is followed.
		rel, err := filepath.Rel(s.root, dst)
		if err != nil {
			return err
		}
		host, err := securejoin.SecureJoin(s.root, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		var hs unix.Stat_t
		switch {
		case unix.Lstat(host, &hs) == nil && hs.Mode&unix.S_IFMT == unix.S_IFDIR:
		case whiteoutsOnly:
			return nil // nothing is below a non-directory to delete
		default:
			if host, _, err = layers.EnsureDir(s.root, filepath.ToSlash(rel), nil); err != nil {
				return err
			}
		}
		dst, lowerDir = host, true
	}
	if lowerDir {
		if opaque {
			if err := s.empty(dst); err != nil {
				return err
			}
		}
		return s.dir(ctx, src, dst, implicit)
	}
	if !exists && whiteoutsOnly {
		return nil // a whiteout below a path that does not exist does nothing
	}
	if exists {
		if err := s.remove(dst, &l); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	return s.dir(ctx, src, dst, false)
}

// holdsMoreThanWhiteouts tells whether the layer directory dir holds
// anything but whiteouts and directories holding only whiteouts.
func holdsMoreThanWhiteouts(dir string) (bool, error) {
	if opaque, err := isOpaque(dir); err != nil || opaque {
		return opaque, err
	}
	children, err := readChildren(dir)
	if err != nil {
		return false, err
	}
	for _, c := range children {
		switch {
		case isWhiteout(&c.st):
			continue
		case !c.isDir():
			return true, nil
		}
		implicit, err := hasMark(c.path, xattr.Implicit)
		if err != nil || !implicit {
			return true, err
		}
		if some, err := holdsMoreThanWhiteouts(c.path); err != nil || some {
			return some, err
		}
	}
	return false, nil
}

// empty removes everything in the directory dir: an opaque layer
// directory hides what lower layers put there.
func (s *stacker) empty(dir string) error {
	children, err := readChildren(dir)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := s.remove(c.path, &c.st); err != nil {
			return err
		}
	}
	return nil
}
