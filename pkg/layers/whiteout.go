package layers

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/dirlist"
	"github.com/buildcrew/builder/internal/xattr"
)

// whiteout removes rel, which lower layers made, unless this archive wrote
// it itself: a whiteout hides only what lies below it.
func (x *extractor) whiteout(rel string) error {
	if rel == "" || rel == "." {
		return nil
	}
	parent, err := securejoin.SecureJoin(x.root, path.Dir(rel))
	if err != nil {
		return fmt.Errorf("applying whiteout of %s: %w", rel, err)
	}
	if fi, err := os.Lstat(parent); err != nil || !fi.IsDir() {
		// Nothing can be below a file; and removing a path "in" a fifo
		// would open the fifo and wait forever for a writer.
		return nil
	}
	target := filepath.Join(parent, path.Base(rel))
	if x.wrote(target) {
		return nil
	}
	x.forget()
	if o := x.opts.Outline; o != nil {
		at := hostRel(x.root, target)
		o.remove(at)
		if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
			o.removeBelow(at)
		}
	}
	if err := removeExcept(target, rel, x.opts.Spare); err != nil {
		return fmt.Errorf("applying whiteout of %s: %w", rel, err)
	}
	return nil
}

// markWhiteout keeps a whiteout (base, in the directory dir) in
// overlayfs's form: the opaque attribute on the directory, or a 0/0
// character device in the deleted path's place, unless this archive made
// that path itself.
func (x *extractor) markWhiteout(dir, base string) error {
	name := strings.TrimPrefix(base, WhiteoutPrefix)
	if base != OpaqueMarker {
		// As when whiteouts apply: nothing is below a non-directory.
		parent, err := securejoin.SecureJoin(x.root, dir)
		if err != nil {
			return fmt.Errorf("keeping whiteout %s: %w", path.Join(dir, base), err)
		}
		fi, err := os.Lstat(parent)
		if (err == nil && !fi.IsDir()) || (err != nil && !errors.Is(err, os.ErrNotExist)) {
			return nil
		}
		// Where this layer's symlinks lead: lower layers may have it.
		dir = hostRel(x.root, parent)
		if x.wrote(filepath.Join(parent, name)) {
			return nil
		}
	}
	host, err := x.mkdirAll(dir)
	if err != nil {
		return fmt.Errorf("keeping whiteout %s: %w", path.Join(dir, base), err)
	}
	if base == OpaqueMarker {
		if err := xattr.Set(host, xattr.Opaque, []byte("y")); err != nil {
			return fmt.Errorf("keeping opaque marker of %s: %w", dir, err)
		}
		x.record(host, Owner{}) // the marker is the directory's, as in opaque
		return nil
	}
	rel := path.Join(dir, name)
	if name == "" || name == "." || name == ".." {
		return nil
	}
	target := filepath.Join(host, name)
	if _, err := x.clear(target, false); err != nil {
		return fmt.Errorf("keeping whiteout of %s: %w", rel, err)
	}
	if err := unix.Mknod(target, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("keeping whiteout of %s: %w", rel, err)
	}
	x.made[target] = true
	return nil
}

// unmarkWhiteout makes a directory of a whiteout this archive kept in
// overlayfs's form at rel, when a later entry puts a directory there: an
// opaque one, as the whiteout hid what lower layers had.
func (x *extractor) unmarkWhiteout(rel string) error {
	if !x.opts.OverlayForm {
		return nil
	}
	host, err := securejoin.SecureJoin(x.root, rel)
	if err != nil || !x.made[host] {
		return nil
	}
	var st unix.Stat_t
	if unix.Lstat(host, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		return nil
	}
	if err := os.Remove(host); err != nil {
		return err
	}
	if err := os.Mkdir(host, 0o755); err != nil {
		return err
	}
	return xattr.Set(host, xattr.Opaque, []byte("y"))
}

// wrote tells whether this archive wrote the host path p or something
// below it.
func (x *extractor) wrote(p string) bool {
	rel := hostRel(x.root, p)
	return x.created[rel] || x.parents[rel]
}

// opaque empties the directory rel of everything lower layers put there,
// keeping what this archive wrote, wherever the marker stands in the tar.
func (x *extractor) opaque(rel string) error {
	host, err := x.mkdirAll(rel)
	if err != nil {
		return fmt.Errorf("applying opaque marker of %s: %w", rel, err)
	}
	// The marker stands for its directory: this archive has it, and no
	// later whiteout or opaque parent of this archive's removes it.
	x.record(host, Owner{})
	x.forget()
	if o := x.opts.Outline; o != nil {
		// What this archive left out stays: its paths are recorded.
		at := hostRel(x.root, host)
		o.pruneBelow(at, func(p string) bool { return x.created[p] })
	}
	if err := x.prune(host); err != nil {
		return fmt.Errorf("applying opaque marker of %s: %w", rel, err)
	}
	return nil
}

func (x *extractor) prune(host string) error {
	names, err := readDirNames(host)
	if err != nil {
		return err
	}
	for _, name := range names {
		child := filepath.Join(host, name)
		if !x.wrote(child) {
			if err := removeExcept(child, hostRel(x.root, child), x.opts.Spare); err != nil {
				return err
			}
			continue
		}
		fi, err := os.Lstat(child)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := x.prune(child); err != nil {
				return err
			}
		}
	}
	return nil
}

// readDirNames lists dir's entries; a missing dir has none.
func readDirNames(dir string) ([]string, error) {
	names, err := dirlist.Names(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return names, err
}
