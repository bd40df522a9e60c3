package snapshot

import (
	"path"
	"sort"
)

// Kind says how a path changed between two trees.
type Kind int

const (
	Added    Kind = iota // not there before
	Modified             // there before, with different metadata
	Deleted              // there before, gone now
	Replaced             // a directory deleted and made again: lower contents must be hidden
)

func (k Kind) String() string {
	return [...]string{"added", "modified", "deleted", "replaced"}[k]
}

// Change is one changed path.
type Change struct {
	Path string
	Kind Kind
}

// Diff lists what changed from before to after, sorted by path, in the
// form a layer needs: a deletion is reported only at the top of a deleted
// subtree and only where a directory still holds it; a directory that was
// deleted and made again is Replaced and everything in it is Added.
func Diff(before, after *Tree) []Change {
	var out []Change
	replaced := map[string]bool{}
	for p, a := range after.entries {
		b, ok := before.entries[p]
		switch {
		case !ok:
			out = append(out, Change{Path: p, Kind: Added})
		case a.isDir() && b.isDir() && (a.ino != b.ino || a.btime != b.btime):
			// A new inode, or the same number reused by a new directory
			// (its birth time tells): the directory was made again.
			replaced[p] = true
			out = append(out, Change{Path: p, Kind: Replaced})
		case changed(b, a):
			out = append(out, Change{Path: p, Kind: Modified})
		}
	}
	if len(replaced) > 0 {
		out = addReplacedContents(out, after, replaced)
	}
	for p := range before.entries {
		if _, ok := after.entries[p]; ok {
			continue
		}
		parent := path.Dir(p)
		if parent != "." && (!after.IsDir(parent) || underReplaced(parent, replaced)) {
			continue // its parent's deletion, replacement or opacity covers it
		}
		out = append(out, Change{Path: p, Kind: Deleted})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// addReplacedContents marks everything inside a replaced directory Added,
// whatever its metadata says: the opaque marker hides the lower copies.
func addReplacedContents(out []Change, after *Tree, replaced map[string]bool) []Change {
	listed := make(map[string]bool, len(out))
	for _, c := range out {
		listed[c.Path] = true
	}
	for p := range after.entries {
		if !listed[p] && underReplaced(path.Dir(p), replaced) {
			out = append(out, Change{Path: p, Kind: Added})
		}
	}
	return out
}

// underReplaced reports whether dir or one of its ancestors was replaced.
func underReplaced(dir string, replaced map[string]bool) bool {
	for ; dir != "." && dir != "/"; dir = path.Dir(dir) {
		if replaced[dir] {
			return true
		}
	}
	return false
}

// changed compares everything that lands in a layer. For directories the
// ctime is left out: it moves whenever an entry is added or removed, which
// the entries themselves already show.
func changed(b, a *meta) bool {
	if a.mode != b.mode || a.uid != b.uid || a.gid != b.gid || a.mtime != b.mtime {
		return true
	}
	if a.isDir() {
		return a.dirXattrs != b.dirXattrs
	}
	return a.ino != b.ino || a.dev != b.dev || a.size != b.size || a.ctime != b.ctime ||
		a.link != b.link || a.rdev != b.rdev
}
