package rootfs

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// bytesReadKey carries the function told of compressed layer bytes read.
type bytesReadKey struct{}

// WithBytesRead returns a context under which making roots tells add how
// many compressed bytes of layers it has read (downloaded, or read from a
// kept copy) as it unpacks them, for a progress bar. add is called from
// several goroutines at once.
func WithBytesRead(ctx context.Context, add func(n int64)) context.Context {
	return context.WithValue(ctx, bytesReadKey{}, add)
}

// withByteCount returns l, whose compressed bytes are counted when ctx asks.
func withByteCount(ctx context.Context, l v1.Layer) v1.Layer {
	add, _ := ctx.Value(bytesReadKey{}).(func(int64))
	if add == nil {
		return l
	}
	return countedLayer{Layer: l, add: add}
}

// countedLayer tells add of each compressed byte read.
type countedLayer struct {
	v1.Layer
	add func(int64)
}

func (c countedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := c.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return countedReader{rc, c.add}, nil
}

type countedReader struct {
	io.ReadCloser
	add func(int64)
}

func (c countedReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 {
		c.add(int64(n))
	}
	return n, err
}
