package layers

import (
	"io"
	"runtime"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// gzipBlock is pgzip's block: the output depends on it, never on the
// number of cores, so layers stay reproducible.
const gzipBlock = 1 << 20

// gzipWriter compresses a layer that stays within one block on the
// calling goroutine, and anything bigger on every core. Most RUN layers
// are a few KiB: setting up parallel compression for them (4 MiB of
// buffers and compressors) costs more than compressing them. Which way a
// layer goes depends only on its size, so its digest does not change
// from one build to the next.
type gzipWriter struct {
	w     io.Writer
	level int
	small []byte // everything so far, while it fits in one block
	big   *pgzip.Writer
}

func newGzipWriter(w io.Writer, level int) *gzipWriter {
	return &gzipWriter{w: w, level: level}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.big == nil && len(g.small)+len(p) <= gzipBlock {
		g.small = append(g.small, p...)
		return len(p), nil
	}
	if g.big == nil {
		big, err := pgzip.NewWriterLevel(g.w, g.level)
		if err != nil {
			return 0, err
		}
		if err := big.SetConcurrency(gzipBlock, 2*runtime.NumCPU()); err != nil {
			return 0, err
		}
		if _, err := big.Write(g.small); err != nil {
			return 0, err
		}
		g.big, g.small = big, nil
	}
	return g.big.Write(p)
}

func (g *gzipWriter) Close() error {
	if g.big != nil {
		return g.big.Close()
	}
	gz, err := gzip.NewWriterLevel(g.w, g.level)
	if err != nil {
		return err
	}
	if _, err := gz.Write(g.small); err != nil {
		return err
	}
	return gz.Close()
}
