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
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// File is a compressed layer stored in a file, with its digests known. It
// implements v1.Layer.
type File struct {
	path   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
	zstd   bool
}

// Compression says how Store compresses a layer.
type Compression struct {
	// Zstd compresses with zstd instead of gzip.
	Zstd bool
	// Level is 1 (fastest) to 9 (smallest); 0 means the default. For zstd
	// it maps onto zstd's four speed levels.
	Level int
}

// compressor wraps w in the chosen compression (gzip: see gzipWriter).
func (c Compression) compressor(w io.Writer) (io.WriteCloser, error) {
	if c.Zstd {
		level := zstd.SpeedDefault
		switch {
		case c.Level == 0:
		case c.Level <= 2:
			level = zstd.SpeedFastest
		case c.Level <= 5:
			level = zstd.SpeedDefault
		case c.Level <= 7:
			level = zstd.SpeedBetterCompression
		default:
			level = zstd.SpeedBestCompression
		}
		return zstd.NewWriter(w, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(runtime.NumCPU()))
	}
	level := c.Level
	if level == 0 {
		level = pgzip.DefaultCompression
	}
	if level < pgzip.HuffmanOnly || level > pgzip.BestCompression {
		return nil, fmt.Errorf("gzip: invalid compression level: %d", level)
	}
	return newGzipWriter(w, level), nil
}

var _ v1.Layer = (*File)(nil)

// Store streams the tar that fill writes through the compressor into a
// file in dir, hashing the tar (the diffID) and the compressed bytes (the
// digest) in the same pass, so memory stays flat whatever the layer's size.
func Store(ctx context.Context, dir string, c Compression, fill func(io.Writer) error) (*File, error) {
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
	digestHash, diffHash := sha256.New(), newHashBehind()
	defer diffHash.stop()
	counter := &countWriter{w: io.MultiWriter(tmp, digestHash)}
	gz, err := c.compressor(counter)
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
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffHash.sum())}
	f := &File{digest: sum(digestHash), diffID: diffID, size: counter.n, zstd: c.Zstd}
	f.path = filepath.Join(dir, f.digest.Algorithm+"-"+f.digest.Hex+".tar")
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

// MediaType is the OCI layer type of its compression; image assembly may
// re-type a gzip layer for the Docker format.
func (f *File) MediaType() (types.MediaType, error) {
	if f.zstd {
		return types.OCILayerZStd, nil
	}
	return types.OCILayer, nil
}

// Compressed opens the stored compressed stream.
func (f *File) Compressed() (io.ReadCloser, error) { return os.Open(f.path) }

// Uncompressed opens the layer's tar stream.
func (f *File) Uncompressed() (io.ReadCloser, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	if f.zstd {
		zr, err := zstd.NewReader(file)
		if err != nil {
			file.Close()
			return nil, fmt.Errorf("reading layer %s: %w", f.digest, err)
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return file.Close() }}, nil
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
