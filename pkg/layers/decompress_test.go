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
