package overlay

import (
	"context"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

// Clone makes dst (which must not exist) a copy of the tree src in which
// every file is a hard link to src's and every directory is new, with
// src's metadata: a few hundred milliseconds for a Debian root, against
// seconds to unpack it again. It suits roots changed only through Merge
// and through writers that replace files rather than write into them
// (Merge renames, never writes into a file in place), so src stays as it
// was.
func Clone(ctx context.Context, src, dst string) error { return clone(ctx, src, dst, false) }

// CloneUpper clones an upper directory as Clone does, keeping its
// whiteouts (linked, as every other file) and its opaque directories.
func CloneUpper(ctx context.Context, src, dst string) error { return clone(ctx, src, dst, true) }

func clone(ctx context.Context, src, dst string, marks bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: src, Err: err}
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	children, err := readChildren(src)
	if err != nil {
		return err
	}
	for _, c := range children {
		to := filepath.Join(dst, c.name)
		if c.isDir() {
			err = clone(ctx, c.path, to, marks)
		} else {
			err = os.Link(c.path, to)
		}
		if err != nil {
			return err
		}
	}
	// Last: making the entries changed dst's mtime.
	if err := setDirMetadata(&st, src, dst); err != nil || !marks {
		return err
	}
	return keepOpaque(src, dst)
}

// keepOpaque marks dst opaque when src is.
func keepOpaque(src, dst string) error {
	opaque, err := isOpaque(src)
	if err != nil || !opaque {
		return err
	}
	return xattr.Set(dst, xattr.Opaque, []byte("y"))
}
