package layers

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// paxXattr is the PAX record prefix for extended attributes.
const paxXattr = "SCHILY.xattr."

// skippedXattrs are attributes that describe the host, not the file.
var skippedXattrs = []string{"trusted.overlay.", "security.selinux"}

// fileInfo is what the layer writer needs to know of a path on disk.
type fileInfo struct {
	st     unix.Stat_t
	link   string            // symlink target
	xattrs map[string]string // extended attributes worth keeping
}

func lstat(p string) (*fileInfo, error) {
	fi := &fileInfo{}
	if err := unix.Lstat(p, &fi.st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	if fi.st.Mode&unix.S_IFMT == unix.S_IFLNK {
		l, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		fi.link = l
	}
	x, err := readXattrs(p)
	if err != nil {
		return nil, err
	}
	fi.xattrs = x
	return fi, nil
}

// readXattrs lists the extended attributes of p without following a symlink.
func readXattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
	}
	var out map[string]string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" || skipXattr(name) {
			continue
		}
		val, err := getXattr(p, name)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = string(val)
	}
	return out, nil
}

func getXattr(p, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(p, name, nil)
	if err != nil {
		return nil, &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
	}
	buf := make([]byte, size)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
	}
	return buf[:n], nil
}

func skipXattr(name string) bool {
	for _, s := range skippedXattrs {
		if strings.HasPrefix(name, s) {
			return true
		}
	}
	return false
}

// header builds the tar header of a path from its metadata. name is the
// path inside the layer.
func header(name string, fi *fileInfo) (*tar.Header, error) {
	st := &fi.st
	h := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).UTC(),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		h.Typeflag = tar.TypeReg
		h.Size = st.Size
	case unix.S_IFDIR:
		h.Typeflag = tar.TypeDir
		h.Name = strings.TrimSuffix(name, "/") + "/"
	case unix.S_IFLNK:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = fi.link
	case unix.S_IFCHR, unix.S_IFBLK:
		h.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor = int64(unix.Major(st.Rdev))
		h.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		h.Typeflag = tar.TypeFifo
	default:
		return nil, fmt.Errorf("%s: sockets and other special files cannot be put in a layer", name)
	}
	for k, v := range fi.xattrs {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords[paxXattr+k] = v
	}
	return h, nil
}

// whiteoutHeader is the header of an empty marker file.
func whiteoutHeader(name string) *tar.Header {
	return &tar.Header{
		Name:     name,
		Typeflag: tar.TypeReg,
		ModTime:  time.Unix(0, 0).UTC(),
		Format:   tar.FormatPAX,
	}
}
