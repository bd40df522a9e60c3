package overlay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/dirlist"
)

// Merge moves the changes in upper into lower, so that lower shows what
// the overlay showed: whiteouts delete, a directory new to lower or opaque
// replaces lower's in one rename, everything else is renamed into place
// (hardlinks between new files stay links) and directories lower had take
// the upper copy's metadata. Upper is left holding only directories.
//
// removeDir takes away a directory of lower's that the step deleted or
// replaced (nil: os.RemoveAll). Deleting a big tree costs as much as
// making it; a caller can move it aside and delete it in the background.
func Merge(ctx context.Context, upper, lower string, removeDir func(string) error) error {
	if removeDir == nil {
		removeDir = os.RemoveAll
	}
	m := &merger{removeDir: removeDir}
	if err := m.dir(ctx, upper, lower); err != nil {
		return fmt.Errorf("merging the step's changes: %w", err)
	}
	return nil
}

type merger struct {
	removeDir func(string) error
}

// remove deletes low, which stat describes.
func (m *merger) remove(low string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return m.removeDir(low)
	}
	return os.Remove(low)
}

func (m *merger) dir(ctx context.Context, upper, lower string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Taken first: moving entries out changes the upper directory's mtime.
	var st unix.Stat_t
	if err := unix.Lstat(upper, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: upper, Err: err}
	}
	if err := eachEntry(upper, lower, func(up, low string) error { return m.entry(ctx, up, low) }); err != nil {
		return err
	}
	// Last: moving entries in changed the lower directory's mtime.
	return setDirMetadata(&st, upper, lower)
}

func (m *merger) entry(ctx context.Context, up, low string) error {
	u, l, exists, err := lstatPair(up, low)
	if err != nil {
		return err
	}
	lowerDir := exists && l.Mode&unix.S_IFMT == unix.S_IFDIR
	if isWhiteout(&u) {
		if exists {
			return m.remove(low, &l)
		}
		return nil
	}
	if u.Mode&unix.S_IFMT != unix.S_IFDIR {
		if lowerDir {
			if err := m.remove(low, &l); err != nil {
				return err
			}
		}
		if err := os.Rename(up, low); err != nil {
			return err
		}
		return dropOverlayXattrs(low)
	}
	opaque, err := isOpaque(up)
	if err != nil {
		return err
	}
	if lowerDir && !opaque {
		return m.dir(ctx, up, low)
	}
	// Nothing of lower's survives here: the whole directory moves in one
	// rename (a new tree of 20,000 files costs one rename, not 20,000).
	// Nothing in it can be a whiteout, but copied-up files in it carry
	// overlayfs's attributes.
	if exists {
		if err := m.remove(low, &l); err != nil {
			return err
		}
	}
	if err := os.Rename(up, low); err != nil {
		return err
	}
	return dropOverlayXattrsTree(ctx, low)
}

// eachEntry calls f with each entry of the directory upper and the same
// name in lower.
func eachEntry(upper, lower string, f func(up, low string) error) error {
	names, err := dirlist.Names(upper)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := f(filepath.Join(upper, name), filepath.Join(lower, name)); err != nil {
			return err
		}
	}
	return nil
}

// lstatPair describes up, and low when it exists.
func lstatPair(up, low string) (u, l unix.Stat_t, exists bool, err error) {
	if err := unix.Lstat(up, &u); err != nil {
		return u, l, false, &os.PathError{Op: "lstat", Path: up, Err: err}
	}
	err = unix.Lstat(low, &l)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return u, l, false, &os.PathError{Op: "lstat", Path: low, Err: err}
	}
	return u, l, err == nil, nil
}

// dropOverlayXattrsTree removes overlayfs's attributes from everything
// under dir, dir included.
func dropOverlayXattrsTree(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := dropOverlayXattrs(dir); err != nil {
		return err
	}
	entries, err := dirlist.Entries(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name)
		if e.Type.IsDir() {
			err = dropOverlayXattrsTree(ctx, p)
		} else {
			err = dropOverlayXattrs(p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
