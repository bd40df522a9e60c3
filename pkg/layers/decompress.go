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

// Stream is a layer's tar stream, decompressed on a goroutine of its own
// a few chunks ahead of the reader, so that decompression overlaps with
// whatever the reader does (writing files, for extraction). An io.Pipe
// hands data over without a buffer: the decompressor waited while the
// reader worked, the reader while the decompressor worked, and each of
// the tar reader's small reads woke the other goroutine (30,000 futex
// calls for a Debian base).
type Stream struct {
	full chan []byte // decompressed chunks, in order; closed at the end
	free chan []byte // chunks read, to fill again
	cur  []byte      // what is left to read of the chunk last received
	buf  []byte      // that chunk, whole, to hand back
	err  error       // why the stream ended, set before full is closed
	stop chan struct{}
}

// A stream keeps streamChunks chunks of streamChunk bytes: a Debian
// layer's file of a few hundred KiB is one or two chunks.
const (
	streamChunk  = 256 << 10
	streamChunks = 4
)

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

// Decompress decompresses r (see Decompressor) concurrently. Finish or
// Stop must be called.
func Decompress(r io.Reader) (*Stream, error) {
	dec, closeDec, err := Decompressor(r)
	if err != nil {
		return nil, fmt.Errorf("reading the layer: %w", err)
	}
	s := &Stream{full: make(chan []byte, streamChunks), free: make(chan []byte, streamChunks), stop: make(chan struct{})}
	for range streamChunks {
		s.free <- make([]byte, streamChunk)
	}
	go func() {
		defer close(s.full)
		defer closeDec()
		for {
			var buf []byte
			select {
			case <-s.stop:
				s.err = errStopped
				return
			default:
			}
			select {
			case buf = <-s.free:
			case <-s.stop:
				s.err = errStopped
				return
			}
			n, err := fill(dec, buf)
			if n > 0 {
				s.full <- buf[:n] // never blocks: full has room for every chunk
			}
			if err == io.EOF {
				// Read the compressed stream to its end: a verifying
				// reader underneath checks the digest only there.
				_, err = io.Copy(io.Discard, r)
				s.err = err
				return
			}
			if err != nil {
				s.err = err
				return
			}
		}
	}()
	return s, nil
}

// fill reads into buf until it is full or r fails; io.EOF means r ended
// (a decompressor's io.ErrUnexpectedEOF, a truncated stream, stays an
// error, which io.ReadFull would blur).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Read reads the decompressed stream.
func (s *Stream) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		if s.buf != nil {
			s.free <- s.buf[:cap(s.buf)] // never blocks: free has room for every chunk
			s.buf = nil
		}
		b, ok := <-s.full
		if !ok {
			if s.err != nil {
				return 0, s.err
			}
			return 0, io.EOF
		}
		s.buf, s.cur = b, b
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// errStopped ends a stream that Stop cut short, so that a read after it
// cannot take the cut for the layer's end.
var errStopped = errors.New("decompression stopped before the end of the layer")

// Stop ends decompression where it is, for a consumer that failed: the
// rest of the layer is neither read nor verified. The goroutine ends at
// its next chunk; closing the compressed stream ends a read it waits in.
func (s *Stream) Stop() {
	close(s.stop)
}

// Finish reads what the consumer left of the stream, so the whole layer
// is decompressed and verified, and returns the decompressor's error.
func (s *Stream) Finish() error {
	for {
		s.cur = nil
		if _, err := s.Read(nil); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
