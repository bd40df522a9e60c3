// Package xattr lists, reads and writes extended attributes without
// following symlinks.
package xattr

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// hostOnly are attributes that describe the host, not the file: they are
// never carried into a layer or a copy.
var hostOnly = []string{"trusted.overlay.", "trusted.builder.", "security.selinux"}

// Marks a layer directory in overlayfs's form carries (see
// layers.ExtractOptions.OverlayForm): overlayfs's opaque directory, this
// builder's directory that only a path below it implied, and on the
// layer's root, that no directory in it is only implied.
const (
	Opaque   = "trusted.overlay.opaque"
	Implicit = "trusted.builder.implicit"
	Whole    = "trusted.builder.whole"
)

// HostOnly reports whether name is one of those attributes.
func HostOnly(name string) bool {
	for _, p := range hostOnly {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Names returns the names of all of p's attributes, host-only ones
// included. A filesystem without attribute support has none.
func Names(p string) ([]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
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
	var names []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name != "" {
			names = append(names, name)
		}
	}
	return names, nil
}

// List returns p's attributes, leaving out host-only ones. A filesystem
// without attribute support has none.
func List(p string) (map[string][]byte, error) {
	names, err := Names(p)
	if err != nil {
		return nil, err
	}
	var out map[string][]byte
	for _, name := range names {
		if HostOnly(name) {
			continue
		}
		val, err := Get(p, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string][]byte{}
		}
		out[name] = val
	}
	return out, nil
}

// Get reads one attribute.
func Get(p, name string) ([]byte, error) {
	for {
		size, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue // it grew meanwhile
		}
		if err != nil {
			return nil, &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		return buf[:n], nil
	}
}

// Set writes one attribute.
func Set(p, name string, value []byte) error {
	if err := unix.Lsetxattr(p, name, value, 0); err != nil {
		return &os.PathError{Op: "lsetxattr " + name, Path: p, Err: err}
	}
	return nil
}
