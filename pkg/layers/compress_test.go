package layers

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestCompressions stores layers of one block (compressed in line), just
// over it and of several blocks (compressed in parallel) with each
// compression: the tar comes back whole, gzip layers read with the
// standard library, and storing again gives the same digest.
func TestCompressions(t *testing.T) {
	for _, size := range []int{3 << 10, gzipBlock, gzipBlock + 1, 3<<20 + 123} {
		payload := make([]byte, size)
		rand.Read(payload[:min(size, 1<<20)])
		t.Run(fmt.Sprint(size), func(t *testing.T) { testCompressions(t, payload) })
	}
}

func testCompressions(t *testing.T, payload []byte) {
	// Written in pieces, as tar writes, so a piece crosses the block.
	fill := func(w io.Writer) error {
		for rest := payload; len(rest) > 0; {
			n := min(len(rest), 100_000)
			if _, err := w.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	}
	for name, c := range map[string]Compression{
		"gzip": {}, "gzip fastest": {Level: 1}, "zstd": {Zstd: true}, "zstd best": {Zstd: true, Level: 9},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := Store(context.Background(), dir, c, fill)
			must(t, err)
			again, err := Store(context.Background(), t.TempDir(), c, fill)
			must(t, err)
			if f.digest != again.digest || f.diffID != again.diffID {
				t.Errorf("two stores of one tar: %s and %s", f.digest, again.digest)
			}
			rc, err := f.Uncompressed()
			must(t, err)
			got, err := io.ReadAll(rc)
			must(t, err)
			rc.Close()
			if !bytes.Equal(got, payload) {
				t.Errorf("the tar came back with %d bytes, want %d", len(got), len(payload))
			}
			mt, _ := f.MediaType()
			want := types.OCILayer
			if c.Zstd {
				want = types.OCILayerZStd
			}
			if mt != want {
				t.Errorf("media type %s, want %s", mt, want)
			}
			if !c.Zstd {
				file, err := os.Open(f.Path())
				must(t, err)
				defer file.Close()
				gz, err := stdgzip.NewReader(file)
				must(t, err)
				n, err := io.Copy(io.Discard, gz)
				if err != nil || n != int64(len(payload)) {
					t.Errorf("the standard library read %d bytes: %v", n, err)
				}
			}
		})
	}
}
