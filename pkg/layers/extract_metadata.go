package layers

import (
	"archive/tar"
	"errors"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

// setMetadata gives an extracted entry its owner, mode, attributes and times.
func (x *extractor) setMetadata(target string, h *tar.Header) error {
	uid, gid := x.owner(h)
	if err := os.Lchown(target, uid, gid); err != nil && x.isRoot {
		return err
	}
	if h.Typeflag != tar.TypeSymlink {
		if err := unix.Chmod(target, uint32(h.Mode&0o7777)); err != nil {
			return &os.PathError{Op: "chmod", Path: target, Err: err}
		}
	}
	return x.setXattrsAndTimes(target, h)
}

// ownerOf is an entry's owner as an Owner.
func (x *extractor) ownerOf(h *tar.Header) Owner {
	uid, gid := x.owner(h)
	return Owner{UID: uid, GID: gid}
}

// owner is who owns an entry once extracted.
func (x *extractor) owner(h *tar.Header) (int, int) {
	if x.opts.Owner != nil {
		return x.opts.Owner.UID, x.opts.Owner.GID
	}
	return h.Uid, h.Gid
}

func (x *extractor) setXattrsAndTimes(target string, h *tar.Header) error {
	for k, v := range h.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattr)
		if !ok || xattr.HostOnly(name) {
			continue
		}
		if err := xattr.Set(target, name, []byte(v)); err != nil {
			if !x.isRoot || errors.Is(err, unix.ENOTSUP) {
				continue
			}
			return err
		}
	}
	mtime := h.ModTime
	atime := h.AccessTime
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if h.Typeflag == tar.TypeDir {
		x.times = append(x.times, dirTime{host: target, times: ts})
		return nil
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: target, Err: err}
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// finish sets directory times last: creating their entries changed them.
func (x *extractor) finish() error {
	for _, d := range x.times {
		err := unix.UtimesNanoAt(unix.AT_FDCWD, d.host, d.times, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) { // removed since
			return &os.PathError{Op: "utimes", Path: d.host, Err: err}
		}
	}
	if x.opts.OverlayForm && len(x.implied) == 0 {
		return xattr.Set(x.root, xattr.Whole, []byte("y"))
	}
	return nil
}
