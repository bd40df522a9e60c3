package layers

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Stream is a layer's tar stream, decompressed in a goroutine of its own
// so that decompression overlaps with whatever the reader does (writing
// files, for extraction).
type Stream struct {
	*io.PipeReader
	done chan error
}

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompressor recognizes the compression of r by its first bytes (gzip,
// bzip2, xz, zstd or none) and returns the decompressed stream and what
// releases the decompressor.
func Decompressor(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<20)
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

// Decompress decompresses r (see Decompressor) concurrently. Finish must
// be called.
func Decompress(r io.Reader) (*Stream, error) {
	dec, closeDec, err := Decompressor(r)
	if err != nil {
		return nil, fmt.Errorf("reading the layer: %w", err)
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
