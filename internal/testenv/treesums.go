package testenv

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/buildcrew/builder/internal/filecopy"
)

// TreeSums describes every path under dir, keyed by its path relative to
// dir: type and mode, owner, size, mtime, and the SHA-256 of a regular
// file's contents. Two calls give equal maps only if nothing under dir
// changed in any of those.
func TreeSums(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d %d %d", fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			sum, err := filecopy.SHA256(p)
			if err != nil {
				return err
			}
			desc += " " + sum
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = desc
		return nil
	})
	return out, err
}
