package overlay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

// MergeUpper moves the changes in upper, a step's upper directory over
// into and the layers below it, into into, itself an upper directory
// over those layers, keeping overlayfs's form: the layers below with
// into alone now show what they showed with upper on top. below shows
// the layers below (see MountLower). Opaque directories move in as they
// are; a whiteout moves in where below shows the path and no directory
// of into's hides it (overlayfs lists a whiteout in a directory that
// merges nothing as an entry), elsewhere what it deletes is just
// removed; a directory into has is merged, taking upper's metadata and
// keeping its own opaque mark; a directory that replaces a file or a
// whiteout of into's is made opaque, so nothing below shows through it.
// Upper is left holding only directories. overlayfs's other attributes
// (a copied-up file's origin, a directory's impure mark) stay as the
// step's overlay set them: into is an upper directory, where overlayfs
// reads them as it would had the step run on into itself (and a lower
// layer's are not read).
//
// removeDir takes away a directory of into's that the step deleted or
// replaced (nil: os.RemoveAll).
func MergeUpper(ctx context.Context, upper, into, below string, removeDir func(string) error) error {
	if removeDir == nil {
		removeDir = os.RemoveAll
	}
	m := &upperMerger{merger: merger{removeDir: removeDir}, upper: upper, below: below}
	if err := m.dir(ctx, upper, into, true); err != nil {
		return fmt.Errorf("merging the step's changes: %w", err)
	}
	return nil
}

type upperMerger struct {
	merger
	upper, below string
}

// shownBelow tells whether the layers below show the path up (in upper).
// No symlink is followed: one where a directory of the path should be
// shows nothing below it, in overlayfs as here.
func (m *upperMerger) shownBelow(up string) (bool, error) {
	rel, err := filepath.Rel(m.upper, up)
	if err != nil {
		return false, err
	}
	p := m.below
	names := strings.Split(rel, string(filepath.Separator))
	for i, name := range names {
		var st unix.Stat_t
		p = filepath.Join(p, name)
		err := unix.Lstat(p, &st)
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		if err != nil {
			return false, &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		if isWhiteout(&st) || (i < len(names)-1 && st.Mode&unix.S_IFMT != unix.S_IFDIR) {
			return false, nil
		}
	}
	return true, nil
}

// dir merges upper into into; merging says into's directories above
// merge what is below (none is opaque).
func (m *upperMerger) dir(ctx context.Context, upper, into string, merging bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(upper, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: upper, Err: err}
	}
	opaque, err := isOpaque(into)
	if err != nil {
		return err
	}
	merging = merging && !opaque
	if err := eachEntry(upper, into, func(up, in string) error { return m.entry(ctx, up, in, merging) }); err != nil {
		return err
	}
	if err := setDirMetadata(&st, upper, into); err != nil || !opaque {
		return err
	}
	return xattr.Set(into, xattr.Opaque, []byte("y"))
}

func (m *upperMerger) entry(ctx context.Context, up, in string, merging bool) error {
	u, l, exists, err := lstatPair(up, in)
	if err != nil {
		return err
	}
	intoDir := exists && l.Mode&unix.S_IFMT == unix.S_IFDIR
	if u.Mode&unix.S_IFMT != unix.S_IFDIR {
		if exists {
			if err := m.remove(in, &l); err != nil {
				return err
			}
		}
		if isWhiteout(&u) {
			if shown, err := m.shownBelow(up); err != nil || !merging || !shown {
				return err
			}
		}
		return os.Rename(up, in)
	}
	opaque, err := isOpaque(up)
	if err != nil {
		return err
	}
	if intoDir && !opaque {
		return m.dir(ctx, up, in, merging)
	}
	// A new directory, or one that hides what was there: one rename (a
	// new tree of 20,000 files costs one rename, not a walk). Its opaque
	// marks stay (a directory new to into may still be over one of the
	// layers below).
	if exists {
		if err := m.remove(in, &l); err != nil {
			return err
		}
	}
	if err := os.Rename(up, in); err != nil {
		return err
	}
	if exists && !opaque {
		return xattr.Set(in, xattr.Opaque, []byte("y"))
	}
	return nil
}

// Lower shows layer directories stacked, read-only: the directory itself
// when there is one, else an overlay of them.
type Lower struct {
	Dir     string
	mounted bool
}

// MountLower shows lowers, the top one first, in dir (an empty directory
// it may use; a single layer is shown as it is).
func MountLower(lowers []string, dir string) (*Lower, error) {
	if len(lowers) == 1 {
		return &Lower{Dir: lowers[0]}, nil
	}
	data := "lowerdir=" + strings.Join(lowers, ":") + ",redirect_dir=off,metacopy=off,xino=off"
	if err := unix.Mount("overlay", dir, "overlay", unix.MS_RDONLY, data); err != nil {
		return nil, fmt.Errorf("mounting the layers %s: %w", strings.Join(lowers, ":"), err)
	}
	return &Lower{Dir: dir, mounted: true}, nil
}

// Unmount takes the overlay away, if there is one.
func (l *Lower) Unmount() error {
	if !l.mounted {
		return nil
	}
	if err := unix.Unmount(l.Dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmounting the layers at %s: %w", l.Dir, err)
	}
	l.mounted = false
	return nil
}
