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
// Deleted; an opaque directory over a lower directory is Opaque and all it
// holds Present; a
// directory present only because something below it changed, with the
// lower one's metadata, is left out. Call it after unmounting and before
// Merge.
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

// dir lists the changes inside the upper directory rel; replaced says an
// ancestor hides the lower contents, so everything is Present.
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
			// A file, link, pipe or socket is a change whatever lower
			// has there, as the directory's record of its type tells
			// without an lstat (a new directory of 20,000 files cost
			// 20,000).
			c.add(path.Join(rel, e.Name), layers.Present)
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
	inLower := !replaced
	if inLower {
		err := unix.Lstat(low, &l)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			inLower = false
		} else if err != nil {
			return &os.PathError{Op: "lstat", Path: low, Err: err}
		}
	}
	if isWhiteout(&u) {
		if inLower {
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
	case opaque && lowerDir:
		c.add(rel, layers.Opaque)
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
