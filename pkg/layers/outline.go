package layers

import (
	"archive/tar"
	"path"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Outline is what an extraction in outline mode (ExtractOptions.Outline)
// left out. Such an extraction makes directories and symlinks, with their
// metadata, and writes only the regular files it is asked to keep (the
// user databases COPY --chown reads): every other file, link or device is
// only noted here. The result has the shape of the image, which is all
// COPY and WORKDIR need, for a fraction of the cost of creating every
// file. Creating a directory where the outline holds a file fails as it
// would on the full filesystem (see EnsureDir).
type Outline struct {
	keep  map[string]bool
	files map[string]map[string]struct{} // directory -> names left out in it
}

// NewOutline returns an empty outline that keeps the regular files at the
// given paths (relative to the root, like "etc/passwd").
func NewOutline(keep ...string) *Outline {
	o := &Outline{keep: map[string]bool{}, files: map[string]map[string]struct{}{}}
	for _, k := range keep {
		o.keep[cleanRel(k)] = true
	}
	return o
}

// Has tells whether the outline left out a file at rel.
func (o *Outline) Has(rel string) bool {
	if o == nil {
		return false
	}
	dir, name := splitRel(cleanRel(rel))
	_, ok := o.files[dir][name]
	return ok
}

// Holds tells whether reading rel in the outlined root gives what the full
// filesystem would: rel, its symlinks resolved inside root, is not a file
// the outline left out. A kept file can still be missing: a hard link to a
// file left out, or a symlink to one.
func (o *Outline) Holds(root, rel string) bool {
	if o == nil {
		return true
	}
	host, err := securejoin.SecureJoin(root, rel)
	if err != nil {
		return false
	}
	return !o.Has(hostRel(root, host))
}

// Len is how many files were left out.
func (o *Outline) Len() int {
	n := 0
	for _, names := range o.files {
		n += len(names)
	}
	return n
}

// writes tells whether an entry is written out rather than noted.
func (o *Outline) writes(h *tar.Header, rel string) bool {
	switch h.Typeflag {
	case tar.TypeDir, tar.TypeSymlink:
		return true
	case tar.TypeReg, tar.TypeRegA:
		return o.keep[rel]
	}
	return false
}

func (o *Outline) add(rel string) {
	dir, name := splitRel(rel)
	names := o.files[dir]
	if names == nil {
		names = map[string]struct{}{}
		o.files[dir] = names
	}
	names[name] = struct{}{}
}

// remove forgets what was left out at rel.
func (o *Outline) remove(rel string) {
	dir, name := splitRel(rel)
	if names := o.files[dir]; names != nil {
		delete(names, name)
		if len(names) == 0 {
			delete(o.files, dir)
		}
	}
}

// removeBelow forgets what was left out inside the directory rel, when
// the directory goes.
func (o *Outline) removeBelow(rel string) {
	o.pruneBelow(rel, func(string) bool { return false })
}

// pruneBelow forgets what was left out inside the directory rel, but the
// paths kept says to keep.
func (o *Outline) pruneBelow(rel string, kept func(string) bool) {
	for dir, names := range o.files {
		if rel != "" && dir != rel && !strings.HasPrefix(dir, rel+"/") {
			continue
		}
		for name := range names {
			if !kept(path.Join(dir, name)) {
				delete(names, name)
			}
		}
		if len(names) == 0 {
			delete(o.files, dir)
		}
	}
}

// splitRel splits a clean relative path into its directory ("" for the
// root) and name.
func splitRel(rel string) (string, string) {
	dir, name := path.Split(rel)
	return strings.TrimSuffix(dir, "/"), name
}
