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
// the overlay showed: whiteouts delete, opaque directories drop what lower
// had in them, everything else is renamed into place (hardlinks between
// new files stay links) and directories take the upper copy's metadata.
// Upper is left holding only directories.
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
	if exists && (!lowerDir || opaque) {
		if err := os.RemoveAll(low); err != nil {
			return err
		}
		lowerDir = false
	}
	if !lowerDir {
		if err := os.Mkdir(low, 0o700); err != nil {
			return err
		}
	}
	return mergeDir(ctx, up, low)
}
