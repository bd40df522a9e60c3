package layers

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Ignore is a set of paths, relative to a root, that Extract and Clear
// leave alone together with everything beneath them: the mounts and files
// of the container a build runs in when it builds at "/".
type Ignore struct {
	paths map[string]bool
}

// NewIgnore makes the set from paths relative to the root (a leading "/"
// is allowed). The root itself cannot be ignored and is dropped.
func NewIgnore(paths ...string) *Ignore {
	ig := &Ignore{paths: map[string]bool{}}
	for _, p := range paths {
		if rel := cleanRel(p); rel != "" {
			ig.paths[rel] = true
		}
	}
	return ig
}

// Paths lists the set, sorted, relative to the root.
func (ig *Ignore) Paths() []string {
	if ig == nil {
		return nil
	}
	out := make([]string, 0, len(ig.paths))
	for p := range ig.paths {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Covers tells whether rel is an ignored path or lies beneath one.
func (ig *Ignore) Covers(rel string) bool {
	if ig == nil || len(ig.paths) == 0 {
		return false
	}
	for p := cleanRel(rel); p != "." && p != ""; p = path.Dir(p) {
		if ig.paths[p] {
			return true
		}
	}
	return false
}

// Below tells whether some ignored path lies strictly beneath rel.
func (ig *Ignore) Below(rel string) bool {
	if ig == nil {
		return false
	}
	rel = cleanRel(rel)
	for p := range ig.paths {
		if rel == "" || strings.HasPrefix(p, rel+"/") {
			return true
		}
	}
	return false
}

// Clear empties root of everything the set does not cover, keeping the
// directories that lead to ignored paths. Cancelling ctx stops it between
// two top-level entries (root may be "/": the rest stays as it is).
func Clear(ctx context.Context, root string, ig *Ignore) error {
	names, err := readDirNames(root)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := removeExcept(filepath.Join(root, name), name, ig); err != nil {
			return err
		}
	}
	return nil
}

// removeExcept removes host (rel inside the root) and everything beneath
// it but the ignored paths and the directories leading to them.
func removeExcept(host, rel string, ig *Ignore) error {
	if ig.Covers(rel) {
		return nil
	}
	if !ig.Below(rel) {
		return os.RemoveAll(host)
	}
	fi, err := os.Lstat(host)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if !fi.IsDir() {
		return os.Remove(host)
	}
	names, err := readDirNames(host)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := removeExcept(filepath.Join(host, name), path.Join(rel, name), ig); err != nil {
			return err
		}
	}
	return nil
}
