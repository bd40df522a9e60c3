package layers

import (
	"archive/tar"
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeRegular creates a regular file with its contents, owner and mode
// through one descriptor: extraction makes thousands of files, and each
// path lookup and poller registration saved counts.
func (x *extractor) writeRegular(target string, h *tar.Header, r io.Reader) error {
	fd, err := unix.Open(target, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: target, Err: err}
	}
	err = x.fillRegular(fd, target, h, r)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: target, Err: cerr}
	}
	if err != nil {
		return err
	}
	return x.setXattrsAndTimes(target, h)
}

func (x *extractor) fillRegular(fd int, target string, h *tar.Header, r io.Reader) error {
	if _, err := io.CopyN(fdWriter(fd), r, h.Size); err != nil {
		return &os.PathError{Op: "write", Path: target, Err: err}
	}
	uid, gid := x.owner(h)
	if err := unix.Fchown(fd, uid, gid); err != nil && x.isRoot {
		return &os.PathError{Op: "chown", Path: target, Err: err}
	}
	if err := unix.Fchmod(fd, uint32(h.Mode&0o7777)); err != nil {
		return &os.PathError{Op: "chmod", Path: target, Err: err}
	}
	return nil
}

// fdWriter writes to a file descriptor without the runtime poller, which
// regular files never use.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := unix.Write(int(w), p[written:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return written, err
		}
		written += n
	}
	return written, nil
}
