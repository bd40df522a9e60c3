package overlay

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

// overlayXattr is the prefix of overlayfs's own attributes in an upper
// directory (opaque, origin, impure, ...).
const overlayXattr = "trusted.overlay."

// isWhiteout tells overlayfs's deletion marker: a 0/0 character device.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// isOpaque tells a directory that hides everything below it.
func isOpaque(p string) (bool, error) {
	return hasMark(p, xattr.Opaque)
}

// hasMark tells whether p carries the attribute name set to "y".
func hasMark(p, name string) (bool, error) {
	v, err := xattr.Get(p, name)
	if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return string(v) == "y", nil
}

// sameDir tells whether two directories have the same mode, owner and
// attributes: an upper directory that only holds changes below it, or
// whose entries came and went. Its times are left out, as BuildKit's
// overlay differ leaves them out.
func sameDir(upper, lower string, u, l *unix.Stat_t) (bool, error) {
	if u.Mode != l.Mode || u.Uid != l.Uid || u.Gid != l.Gid {
		return false, nil
	}
	return sameXattrs(upper, lower)
}

// sameXattrs tells whether two entries have the same extended attributes.
func sameXattrs(a, b string) (bool, error) {
	ax, err := xattr.List(a)
	if err != nil {
		return false, err
	}
	bx, err := xattr.List(b)
	if err != nil {
		return false, err
	}
	return maps.EqualFunc(ax, bx, bytes.Equal), nil
}

// copyDirMetadata gives the directory dst src's mode, owner, attributes
// and times, dropping attributes dst has and src lacks.
func copyDirMetadata(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: src, Err: err}
	}
	return setDirMetadata(&st, src, dst)
}

// setDirMetadata gives the directory dst the mode, owner and times in st
// and src's attributes.
func setDirMetadata(st *unix.Stat_t, src, dst string) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "lchown", Path: dst, Err: err}
	}
	if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
		return &os.PathError{Op: "chmod", Path: dst, Err: err}
	}
	if err := syncXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: dst, Err: err}
	}
	return nil
}

// syncXattrs makes dst's attributes src's, overlayfs's own left out.
func syncXattrs(src, dst string) error {
	want, err := xattr.List(src)
	if err != nil {
		return err
	}
	have, err := xattr.List(dst)
	if err != nil {
		return err
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			if err := unix.Lremovexattr(dst, k); err != nil && !errors.Is(err, unix.ENODATA) {
				return &os.PathError{Op: "lremovexattr " + k, Path: dst, Err: err}
			}
		}
	}
	for k, v := range want {
		if !bytes.Equal(have[k], v) {
			if err := xattr.Set(dst, k, v); err != nil {
				return err
			}
		}
	}
	return dropOverlayXattrs(dst)
}

// dropOverlayXattrs removes overlayfs's attributes from p: in a lower
// directory an opaque mark would hide things from the next step's overlay.
func dropOverlayXattrs(p string) error {
	names, err := xattr.Names(p)
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasPrefix(name, overlayXattr) {
			if err := unix.Lremovexattr(p, name); err != nil && !errors.Is(err, unix.ENODATA) {
				return &os.PathError{Op: "lremovexattr " + name, Path: p, Err: err}
			}
		}
	}
	return nil
}
