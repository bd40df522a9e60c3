package isolation

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// errNotPlain is a path that leads through a symlink or a non-directory:
// the builder never follows one a step may have made.
var errNotPlain = errors.New("not a plain directory path")

// openDir opens the directory rel under root, one component at a time,
// never following a symlink (O_NOFOLLOW) and never leaving root ("..").
// Every host-side operation on a root goes through a descriptor from here,
// so a symlink a step left behind cannot turn it into one on the host.
func openDir(root, rel string) (*os.File, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	for _, name := range strings.Split(strings.Trim(path.Clean("/"+rel), "/"), "/") {
		if name == "" {
			continue
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("%s: %w", rel, errNotPlain)
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: rel, Err: err}
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), path.Join(root, rel)), nil
}

// identity is what tells a file from another that took its name.
type identity struct{ dev, ino uint64 }

// statAt lstat's name in dir.
func statAt(dir *os.File, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

func idOf(st *unix.Stat_t) identity { return identity{dev: uint64(st.Dev), ino: st.Ino} }
