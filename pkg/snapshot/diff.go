package snapshot

import (
	"path"
	"sort"

	"github.com/buildcrew/builder/pkg/layers"
)

// Diff lists what changed from before to after as the entries of a layer,
// sorted by path: a path added or changed is Present; a deletion is
// Deleted only at the top of a deleted subtree and only where a directory
// still holds it; a directory that was deleted and made again is Present,
// everything in it Present, and what it held before and not now Deleted
// (explicit whiteouts, as BuildKit writes, not an opaque marker).
func Diff(before, after *Tree) []layers.Entry {
	var out []layers.Entry
	replaced := map[string]bool{}
	for p, a := range after.entries {
		b, ok := before.entries[p]
		switch {
		case !ok:
			out = append(out, layers.Entry{Path: p})
		case a.isDir() && b.isDir() && (a.ino != b.ino || a.btime != b.btime):
			// A new inode, or the same number reused by a new directory
			// (its birth time tells): the directory was made again.
			replaced[p] = true
			out = append(out, layers.Entry{Path: p})
		case changed(b, a):
			out = append(out, layers.Entry{Path: p})
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
		if parent != "." && !after.IsDir(parent) {
			continue // its parent's deletion or replacement by a file covers it
		}
		out = append(out, layers.Entry{Path: p, Kind: layers.Deleted})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// addReplacedContents lists everything inside a replaced directory,
// whatever its metadata says: each is a new file in the old one's place.
func addReplacedContents(out []layers.Entry, after *Tree, replaced map[string]bool) []layers.Entry {
	listed := make(map[string]bool, len(out))
	for _, c := range out {
		listed[c.Path] = true
	}
	for p := range after.entries {
		if !listed[p] && underReplaced(path.Dir(p), replaced) {
			out = append(out, layers.Entry{Path: p})
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
// times are left out, as BuildKit's differ leaves them out: they move
// whenever an entry is added or removed, which the entries themselves
// show, and a directory whose entries came and went changed nothing.
func changed(b, a *meta) bool {
	if a.mode != b.mode || a.uid != b.uid || a.gid != b.gid {
		return true
	}
	if a.isDir() {
		return a.dirXattrs != b.dirXattrs
	}
	return a.mtime != b.mtime || a.ino != b.ino || a.dev != b.dev || a.size != b.size || a.ctime != b.ctime ||
		a.link != b.link || a.rdev != b.rdev
}
