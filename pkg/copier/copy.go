package copier

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Copy copies m, a match of the copier's source, to dest: a directory's
// contents into dest, a file into dest (when it ends with "/" or is a
// directory) or as dest. With unpack (ADD), a local tar archive, plain or
// compressed, is unpacked into the directory dest instead.
func (cp *Copier) Copy(ctx context.Context, m Match, dest string, unpack bool) error {
	fi, err := os.Stat(m.Host)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		target, err := cp.MkdirAll(dest)
		if err != nil {
			return err
		}
		return cp.copyDir(m.Host, target, m.Real, "", true, nil)
	}
	if unpack {
		ok, err := cp.UnpackArchive(ctx, m.Host, dest)
		if ok || err != nil {
			return err
		}
	}
	target, err := cp.fileTarget(dest, path.Base("/"+m.Rel))
	if err != nil {
		return err
	}
	return cp.copyFile(m.Host, target, fi)
}

// fileTarget is where a file named name goes: into dest when dest ends
// with "/" or is an existing directory, else at dest itself. A symlink at
// dest is followed, inside the root, as BuildKit does: the file replaces
// the link's target (made with its missing directories) and the link
// stays.
func (cp *Copier) fileTarget(dest, name string) (string, error) {
	if strings.HasSuffix(dest, "/") || cp.IsDir(dest) {
		dir, err := cp.MkdirAll(dest)
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, name), nil
	}
	dir, err := cp.MkdirAll(path.Dir(dest))
	if err != nil {
		return "", err
	}
	target := filepath.Join(dir, path.Base(dest))
	if fi, err := os.Lstat(target); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return target, nil
	}
	resolved, err := securejoin.SecureJoin(cp.root, dest)
	if err != nil {
		return "", err
	}
	// Directories the link leads into that do not exist are made, as
	// BuildKit makes them.
	if dir, err = cp.MkdirAll(path.Dir("/" + cp.rel(resolved))); err != nil {
		return "", fmt.Errorf("%s is a symlink to /%s: %w", path.Clean("/"+dest), cp.rel(resolved), err)
	}
	return filepath.Join(dir, filepath.Base(resolved)), nil
}

// IsDir reports whether p is a directory in the root, symlinks followed.
func (cp *Copier) IsDir(p string) bool {
	h, err := securejoin.SecureJoin(cp.root, p)
	if err != nil {
		return false
	}
	fi, err := os.Stat(h)
	return err == nil && fi.IsDir()
}
