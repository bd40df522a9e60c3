package layers

import (
	"archive/tar"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

// paxXattr is the PAX record prefix for extended attributes.
const paxXattr = "SCHILY.xattr."

// fileInfo is what the layer writer needs to know of a path on disk.
type fileInfo struct {
	st     unix.Stat_t
	link   string            // symlink target
	xattrs map[string][]byte // extended attributes worth keeping
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
	x, err := xattr.List(p)
	if err != nil {
		return nil, err
	}
	fi.xattrs = x
	return fi, nil
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
		h.PAXRecords[paxXattr+k] = string(v)
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
