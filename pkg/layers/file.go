package layers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// File is a compressed layer stored in a file, with its digests known. It
// implements v1.Layer.
type File struct {
	path   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
}

var _ v1.Layer = (*File)(nil)

// Store streams the tar that fill writes through gzip into a file in dir,
// hashing the tar (the diffID) and the compressed bytes (the digest) in the
// same pass, so memory stays flat whatever the layer's size. level is
// gzip's, 1 (fastest) to 9 (smallest); 0 means the default.
func Store(ctx context.Context, dir string, level int, fill func(io.Writer) error) (*File, error) {
	if level == 0 {
		level = gzip.DefaultCompression
	}
	tmp, err := os.CreateTemp(dir, "layer-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("creating layer file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	digestHash, diffHash := sha256.New(), sha256.New()
	counter := &countWriter{w: io.MultiWriter(tmp, digestHash)}
	gz, err := gzip.NewWriterLevel(counter, level)
	if err != nil {
		return nil, err
	}
	if err := fill(io.MultiWriter(diffHash, gz)); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("writing layer file: %w", err)
	}
	f := &File{digest: sum(digestHash), diffID: sum(diffHash), size: counter.n}
	f.path = filepath.Join(dir, f.digest.Algorithm+"-"+f.digest.Hex+".tar.gz")
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return nil, fmt.Errorf("storing layer file: %w", err)
	}
	ok = true
	return f, nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Path is where the compressed layer is stored.
func (f *File) Path() string { return f.path }

// Digest is the sha256 of the compressed layer.
func (f *File) Digest() (v1.Hash, error) { return f.digest, nil }

// DiffID is the sha256 of the uncompressed tar.
func (f *File) DiffID() (v1.Hash, error) { return f.diffID, nil }

// Size is the size of the compressed layer.
func (f *File) Size() (int64, error) { return f.size, nil }

// MediaType is the OCI gzip layer type; image assembly may re-type it.
func (f *File) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Compressed opens the stored gzip stream.
func (f *File) Compressed() (io.ReadCloser, error) { return os.Open(f.path) }

// Uncompressed opens the layer's tar stream.
func (f *File) Uncompressed() (io.ReadCloser, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(file)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("reading layer %s: %w", f.digest, err)
	}
	return &readCloser{Reader: gz, close: func() error { gz.Close(); return file.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }
