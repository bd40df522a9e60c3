package layers

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestDecompress(t *testing.T) {
	payload := bytes.Repeat([]byte("layer bytes "), 100000)
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(payload)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(payload)
	zw.Close()
	for name, data := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zs.Bytes(), "plain": payload} {
		t.Run(name, func(t *testing.T) {
			s, err := Decompress(bytes.NewReader(data))
			must(t, err)
			got, err := io.ReadAll(s)
			must(t, err)
			must(t, s.Finish())
			if !bytes.Equal(got, payload) {
				t.Errorf("got %d bytes back, want %d", len(got), len(payload))
			}
		})
	}
	// A reader that stops early still gets the whole stream checked.
	s, err := Decompress(io.MultiReader(bytes.NewReader(gz.Bytes()), &failing{}))
	must(t, err)
	io.CopyN(io.Discard, s, 10)
	if err := s.Finish(); err == nil {
		t.Error("a failure after the compressed data went unnoticed")
	}
}

type failing struct{}

func (*failing) Read([]byte) (int, error) { return 0, errors.New("digest mismatch") }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestDecompressStop: after Stop, decompression ends within a chunk or
// two of where the consumer stopped instead of reading the whole layer
// (a failed extraction of a big base then costs nothing more).
func TestDecompressStop(t *testing.T) {
	payload := bytes.Repeat([]byte("layer bytes "), 32<<20/12)
	src := &countingReader{r: bytes.NewReader(payload)}
	s, err := Decompress(src)
	must(t, err)
	if _, err := io.CopyN(io.Discard, s, 10); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	// What was decompressed before the stop is still there to read; then
	// the stream fails rather than look complete.
	rest, err := io.Copy(io.Discard, s)
	if !errors.Is(err, errStopped) {
		t.Errorf("reading after Stop: %v, want %v", err, errStopped)
	}
	if limit := 4 << 20; rest > int64(limit) || src.n > limit {
		t.Errorf("after Stop %d more bytes came out and %d of %d were read from the source", rest, src.n, len(payload))
	}
}
