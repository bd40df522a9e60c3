package layers

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// whiteout removes rel, which lower layers made, unless this archive wrote
// it itself: a whiteout hides only what lies below it.
func (x *extractor) whiteout(rel string) error {
	if rel == "" || rel == "." || x.created[rel] || x.parents[rel] {
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
	x.forget()
	target := filepath.Join(parent, path.Base(rel))
	if o := x.opts.Outline; o != nil {
		at := hostRel(x.root, target)
		o.remove(at)
		if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
			o.removeBelow(at)
		}
	}
	if err := removeExcept(target, rel, x.opts.Keep, false); err != nil {
		return fmt.Errorf("applying whiteout of %s: %w", rel, err)
	}
	return nil
}

// opaque empties the directory rel of everything lower layers put there,
// keeping what this archive wrote, wherever the marker stands in the tar.
func (x *extractor) opaque(rel string) error {
	host, err := x.mkdirAll(rel)
	if err != nil {
		return fmt.Errorf("applying opaque marker of %s: %w", rel, err)
	}
	x.forget()
	if o := x.opts.Outline; o != nil {
		// What this archive left out stays: its paths are recorded.
		at := hostRel(x.root, host)
		o.pruneBelow(at, func(p string) bool { return x.created[path.Join(rel, strings.TrimPrefix(p, at+"/"))] })
	}
	if err := x.prune(host, rel); err != nil {
		return fmt.Errorf("applying opaque marker of %s: %w", rel, err)
	}
	return nil
}

func (x *extractor) prune(host, rel string) error {
	names, err := readDirNames(host)
	if err != nil {
		return err
	}
	for _, name := range names {
		childRel := path.Join(rel, name)
		child := filepath.Join(host, name)
		if !x.created[childRel] && !x.parents[childRel] {
			if err := removeExcept(child, childRel, x.opts.Keep, false); err != nil {
				return err
			}
			continue
		}
		fi, err := os.Lstat(child)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if err := x.prune(child, childRel); err != nil {
				return err
			}
		}
	}
	return nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
