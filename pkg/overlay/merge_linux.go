package overlay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Merge moves the changes in upper into lower, so that lower shows what
// the overlay showed: whiteouts delete, a directory new to lower or opaque
// replaces lower's in one rename, everything else is renamed into place
// (hardlinks between new files stay links) and directories lower had take
// the upper copy's metadata. Upper is left holding only directories.
func Merge(ctx context.Context, upper, lower string) error {
	if err := mergeDir(ctx, upper, lower); err != nil {
		return fmt.Errorf("merging the step's changes: %w", err)
	}
	return nil
}

func mergeDir(ctx context.Context, upper, lower string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Taken first: moving entries out changes the upper directory's mtime.
	var st unix.Stat_t
	if err := unix.Lstat(upper, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: upper, Err: err}
	}
	names, err := readNames(upper)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := mergeEntry(ctx, filepath.Join(upper, name), filepath.Join(lower, name)); err != nil {
			return err
		}
	}
	// Last: moving entries in changed the lower directory's mtime.
	return setDirMetadata(&st, upper, lower)
}

func mergeEntry(ctx context.Context, up, low string) error {
	var u, l unix.Stat_t
	if err := unix.Lstat(up, &u); err != nil {
		return &os.PathError{Op: "lstat", Path: up, Err: err}
	}
	err := unix.Lstat(low, &l)
	exists := err == nil
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "lstat", Path: low, Err: err}
	}
	lowerDir := exists && l.Mode&unix.S_IFMT == unix.S_IFDIR
	if isWhiteout(&u) {
		if exists {
			return os.RemoveAll(low)
		}
		return nil
	}
	if u.Mode&unix.S_IFMT != unix.S_IFDIR {
		if lowerDir {
			if err := os.RemoveAll(low); err != nil {
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
		return mergeDir(ctx, up, low)
	}
	// Nothing of lower's survives here: the whole directory moves in one
	// rename (a new tree of 20,000 files costs one rename, not 20,000).
	// Nothing in it can be a whiteout, but copied-up files in it carry
	// overlayfs's attributes.
	if exists {
		if err := os.RemoveAll(low); err != nil {
			return err
		}
	}
	if err := os.Rename(up, low); err != nil {
		return err
	}
	return dropOverlayXattrsTree(ctx, low)
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
	names, err := readNames(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
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
