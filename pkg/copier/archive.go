package copier

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/buildcrew/builder/pkg/layers"
)

// UnpackArchive extracts a local tar archive (plain, gzip, bzip2, xz or
// zstd, recognized by content, not by name) into the directory dest, as
// ADD does. It reports false, doing nothing, for any other file.
func (cp *Copier) UnpackArchive(ctx context.Context, file, dest string) (bool, error) {
	ok, err := isArchive(file)
	if err != nil || !ok {
		return false, err
	}
	// BuildKit gives the directories an archive is unpacked into 0755,
	// whatever --chmod says (it applies to copied files, not unpacked ones).
	dir, err := cp.mkdirAll(dest, nil)
	if err != nil {
		return true, err
	}
	f, err := os.Open(file)
	if err != nil {
		return true, err
	}
	defer f.Close()
	r, closer, err := layers.Decompressor(f)
	if err != nil {
		return true, err
	}
	defer closer()
	opts := layers.ExtractOptions{
		Owner:   cp.owner,
		Written: func(rel string, o layers.Owner) { cp.record(filepath.Join(dir, filepath.FromSlash(rel)), o.UID, o.GID) },
	}
	if err := layers.Extract(ctx, dir, r, opts); err != nil {
		return true, fmt.Errorf("extracting %s: %w", path.Base(file), err)
	}
	return true, nil
}

// isArchive reports whether file is a tar stream, possibly compressed.
func isArchive(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, closer, err := layers.Decompressor(f)
	if err != nil {
		return false, nil // compressed, but not readable as such: a plain file
	}
	defer closer()
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}
