package layers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Stream is a layer's tar stream, decompressed in a goroutine of its own
// so that decompression overlaps with whatever the reader does (writing
// files, for extraction).
type Stream struct {
	*io.PipeReader
	done chan error
}

// Decompress detects the compression of r by its first bytes (gzip, zstd
// or none) and decompresses it concurrently. Finish must be called.
func Decompress(r io.Reader) (*Stream, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(4)
	var dec io.Reader
	var closeDec func()
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading the gzip layer: %w", err)
		}
		dec, closeDec = gz, func() { gz.Close() }
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading the zstd layer: %w", err)
		}
		dec, closeDec = zr, zr.Close
	default:
		dec, closeDec = br, func() {}
	}
	pr, pw := io.Pipe()
	s := &Stream{PipeReader: pr, done: make(chan error, 1)}
	go func() {
		defer closeDec()
		buf := make([]byte, 256<<10)
		_, err := io.CopyBuffer(pw, dec, buf)
		if err == nil {
			// Read the compressed stream to its end: a verifying reader
			// underneath checks the digest only there.
			_, err = io.Copy(io.Discard, r)
		}
		pw.CloseWithError(err)
		s.done <- err
	}()
	return s, nil
}

// Finish reads what the consumer left of the stream, so the whole layer
// is decompressed and verified, and returns the decompressor's error.
func (s *Stream) Finish() error {
	_, drainErr := io.Copy(io.Discard, s.PipeReader)
	err := <-s.done
	s.PipeReader.Close()
	if err != nil {
		return err
	}
	if drainErr != nil && !errors.Is(drainErr, io.ErrClosedPipe) {
		return drainErr
	}
	return nil
}
