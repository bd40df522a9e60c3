package overlay

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/dirlist"
	"github.com/buildcrew/builder/pkg/layers"
)

// Changes lists what the upper directory changed in lower as the entries
// of a layer, as snapshot.Diff does: sorted by path; a whiteout is
// Deleted; a directory made again (opaque) over a lower directory is
// Present, all it holds Present, and what the lower one held that it does
// not is Deleted, at every depth where both are directories (explicit
// whiteouts, as BuildKit writes, not an opaque marker); a directory
// present only because something below it changed, with the lower one's
// metadata, is left out, and so is a file that is what lower had (see
// sameFile). Call it after unmounting and before Merge.
func Changes(ctx context.Context, upper, lower string) ([]layers.Entry, error) {
	c := &changes{upper: upper, lower: lower}
	if err := c.dir(ctx, "", false); err != nil {
		return nil, err
	}
	sort.Slice(c.out, func(i, j int) bool { return c.out[i].Path < c.out[j].Path })
	return c.out, nil
}

type changes struct {
	upper, lower string
	out          []layers.Entry
}

// dir lists the changes inside the upper directory rel; replaced says it
// or an ancestor was made again, hiding the lower contents, so everything
// in it is Present.
func (c *changes) dir(ctx context.Context, rel string, replaced bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := dirlist.Entries(filepath.Join(c.upper, rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type&(fs.ModeDir|fs.ModeCharDevice) == 0 {
			// A file, link, pipe or socket: where nothing was below it
			// is a change, as the directory's record of its type tells
			// without an lstat (a new directory of 20,000 files cost
			// 20,000); else a change unless it is what lower had.
			p := path.Join(rel, e.Name)
			if !replaced {
				same, err := sameFile(filepath.Join(c.upper, p), filepath.Join(c.lower, p))
				if err != nil {
					return err
				}
				if same {
					continue
				}
			}
			c.add(p, layers.Present)
			continue
		}
		if err := c.entry(ctx, path.Join(rel, e.Name), replaced); err != nil {
			return err
		}
	}
	return nil
}

func (c *changes) entry(ctx context.Context, rel string, replaced bool) error {
	up := filepath.Join(c.upper, rel)
	var u, l unix.Stat_t
	if err := unix.Lstat(up, &u); err != nil {
		return &os.PathError{Op: "lstat", Path: up, Err: err}
	}
	low := filepath.Join(c.lower, rel)
	inLower := true
	if err := unix.Lstat(low, &l); errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		inLower = false
	} else if err != nil {
		return &os.PathError{Op: "lstat", Path: low, Err: err}
	}
	if isWhiteout(&u) {
		if inLower && !replaced {
			c.add(rel, layers.Deleted)
		}
		return nil
	}
	if u.Mode&unix.S_IFMT != unix.S_IFDIR {
		c.add(rel, layers.Present)
		return nil
	}
	lowerDir := inLower && l.Mode&unix.S_IFMT == unix.S_IFDIR
	opaque, err := isOpaque(up)
	if err != nil {
		return err
	}
	switch {
	case lowerDir && (replaced || opaque):
		// Made again over a lower directory: what that one held and
		// this one does not must be whited out by name.
		c.add(rel, layers.Present)
		if err := c.hidden(rel); err != nil {
			return err
		}
		return c.dir(ctx, rel, true)
	case lowerDir:
		same, err := sameDir(up, low, &u, &l)
		if err != nil {
			return err
		}
		if !same {
			c.add(rel, layers.Present)
		}
		return c.dir(ctx, rel, false)
	default:
		// New here, or over a lower file: nothing below it is in lower.
		c.add(rel, layers.Present)
		return c.dir(ctx, rel, true)
	}
}

// hidden adds a deletion for each entry of the lower directory rel that
// the upper directory, made again, does not have.
func (c *changes) hidden(rel string) error {
	names, err := dirlist.Names(filepath.Join(c.lower, rel))
	if err != nil {
		return err
	}
	upper, err := dirlist.Entries(filepath.Join(c.upper, rel))
	if err != nil {
		return err
	}
	kept := make(map[string]bool, len(upper))
	for _, e := range upper {
		if e.Type&fs.ModeCharDevice == 0 || !c.whiteout(path.Join(rel, e.Name)) {
			kept[e.Name] = true
		}
	}
	for _, n := range names {
		if !kept[n] {
			c.add(path.Join(rel, n), layers.Deleted)
		}
	}
	return nil
}

// whiteout tells an upper entry that is overlayfs's mark of a deletion.
func (c *changes) whiteout(rel string) bool {
	var st unix.Stat_t
	return unix.Lstat(filepath.Join(c.upper, rel), &st) == nil && isWhiteout(&st)
}

func (c *changes) add(rel string, k layers.Kind) {
	c.out = append(c.out, layers.Entry{Path: rel, Kind: k})
}

// child is an entry of a directory, described without following it.
type child struct {
	name, path string
	st         unix.Stat_t
}

// isDir tells a directory.
func (c *child) isDir() bool { return c.st.Mode&unix.S_IFMT == unix.S_IFDIR }

// readChildren lists a directory's entries, sorted, each described.
func readChildren(dir string) ([]child, error) {
	names, err := dirlist.Names(dir)
	if err != nil {
		return nil, err
	}
	out := make([]child, len(names))
	for i, name := range names {
		c := &out[i]
		c.name, c.path = name, filepath.Join(dir, name)
		if err := unix.Lstat(c.path, &c.st); err != nil {
			return nil, &os.PathError{Op: "lstat", Path: c.path, Err: err}
		}
	}
	return out, nil
}
