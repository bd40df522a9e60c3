package layers

import (
	"archive/tar"
	"fmt"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// linksOnDisk tells, in an outline, a hard link to be made for real: one
// whose target is on disk (a symlink, a kept file) or is nowhere (the
// link fails as in a full extraction), not one the outline left out.
func (x *extractor) linksOnDisk(h *tar.Header) bool {
	if h.Typeflag != tar.TypeLink {
		return false
	}
	src, err := x.linkPath(h.Linkname)
	return err != nil || !x.opts.Outline.Has(hostRel(x.root, src))
}

// linkPath is where a hardlink's target is inside the root, its parent
// directories resolved.
func (x *extractor) linkPath(name string) (string, error) {
	rel := cleanRel(name)
	if rel == "" {
		return "", fmt.Errorf("hardlink to the root directory")
	}
	parent, err := securejoin.SecureJoin(x.root, path.Dir(rel))
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, path.Base(rel)), nil
}

// linkSource resolves a hardlink's target inside the root.
func (x *extractor) linkSource(name string) (string, error) {
	src, err := x.linkPath(name)
	if err != nil {
		return "", err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return "", fmt.Errorf("hardlink target %s: %w", name, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("hardlink target %s is a directory", name)
	}
	return src, nil
}
