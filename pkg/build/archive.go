package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/buildcrew/builder/pkg/layers"
)

// unpackArchive extracts a local tar archive (plain, gzip, bzip2, xz or
// zstd, recognized by content, not by name) into the directory dest, as
// ADD does. It reports false, doing nothing, for any other file.
func (b *builder) unpackArchive(ctx context.Context, cp *copier, file, dest string) (bool, error) {
	ok, err := isArchive(file)
	if err != nil || !ok {
		return false, err
	}
	dir, err := cp.mkdirAll(dest)
	if err != nil {
		return true, err
	}
	f, err := os.Open(file)
	if err != nil {
		return true, err
	}
	defer f.Close()
	r, closer, err := decompress(f)
	if err != nil {
		return true, err
	}
	defer closer()
	opts := layers.ExtractOptions{
		Owner:   cp.owner,
		Written: func(rel string) { cp.recordAsIs(filepath.Join(dir, filepath.FromSlash(rel))) },
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
	r, closer, err := decompress(f)
	if err != nil {
		return false, nil // compressed, but not readable as such: a plain file
	}
	defer closer()
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress recognizes the compression of r by its first bytes.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(head, magicGzip):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return gz, func() { gz.Close() }, nil
	case bytes.HasPrefix(head, magicBzip2):
		return bzip2.NewReader(br), func() {}, nil
	case bytes.HasPrefix(head, magicXz):
		x, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return x, func() {}, nil
	case bytes.HasPrefix(head, magicZstd):
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	}
	return br, func() {}, nil
}
