package copier

import (
	"context"
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
// with "/" or is an existing directory, else at dest itself.
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
	return filepath.Join(dir, path.Base(dest)), nil
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
