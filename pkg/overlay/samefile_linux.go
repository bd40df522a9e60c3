package overlay

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/filecopy"
)

// sameFile tells whether the upper entry (not a directory) is what the
// lower one was: an entry copied up or written again without a change
// (apt's lock files, debconf's databases rewritten as they were, a file
// moved away and back). As BuildKit's overlay differ, it compares type,
// mode, owner, device, size and modification time; where all agree it
// also compares the contents (BuildKit trusts a modification time with
// nanoseconds), so a file changed and given back its old time is still a
// change. One of several hard links is kept as a change: leaving it out
// would store its new names as copies.
func sameFile(upper, lower string) (bool, error) {
	var u, l unix.Stat_t
	if err := unix.Lstat(lower, &l); errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return false, nil
	} else if err != nil {
		return false, &os.PathError{Op: "lstat", Path: lower, Err: err}
	}
	if err := unix.Lstat(upper, &u); err != nil {
		return false, &os.PathError{Op: "lstat", Path: upper, Err: err}
	}
	if u.Mode != l.Mode || u.Uid != l.Uid || u.Gid != l.Gid || u.Rdev != l.Rdev || u.Size != l.Size ||
		u.Mtim != l.Mtim || u.Nlink > 1 {
		return false, nil
	}
	if same, err := sameXattrs(upper, lower); err != nil || !same {
		return false, err
	}
	switch u.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		ut, err := os.Readlink(upper)
		if err != nil {
			return false, err
		}
		lt, err := os.Readlink(lower)
		return err == nil && ut == lt, err
	case unix.S_IFREG:
		return filecopy.Same(upper, lower)
	}
	return true, nil // a pipe or device: nothing more to it
}
