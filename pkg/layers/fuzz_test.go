package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
)

// FuzzExtract unpacks arbitrary bytes as a layer into a root inside a
// directory with a sentinel beside it: whatever the archive says, nothing
// may appear or change outside the root.
func FuzzExtract(f *testing.F) {
	for _, hs := range [][]*tar.Header{
		{dir("a/"), reg("a/b")},
		{link("l", "/etc", tar.TypeSymlink), reg("l/passwd")},
		{link("up", "..", tar.TypeSymlink), reg("up/escaped")},
		{reg("../outside")},
		{link("h", "../sentinel", tar.TypeLink)},
		{reg("a"), reg(".wh.a"), reg("b/.wh..wh..opq")},
	} {
		f.Add(fuzzTar(hs), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, whiteouts bool) {
		base := t.TempDir()
		root := filepath.Join(base, "root")
		sentinel := filepath.Join(base, "sentinel")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sentinel, []byte("untouched"), 0o644); err != nil {
			t.Fatal(err)
		}
		Extract(context.Background(), root, bytes.NewReader(data), ExtractOptions{Whiteouts: whiteouts})
		entries, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("the archive wrote beside the root: %v", names)
		}
		if got, err := os.ReadFile(sentinel); err != nil || string(got) != "untouched" {
			t.Fatalf("the sentinel outside the root changed: %q, %v", got, err)
		}
	})
}

// FuzzOutline extracts two generated layers in full and as an outline:
// whenever the full extraction works, the outline must agree with it (see
// compareOutline). The input is a testenv.LayerScript.
func FuzzOutline(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 0, 1, 3, 0, 7, 0, 0, 4, 1, 0, 1, 1, 0})
	f.Add([]byte{0, 5, 0, 1, 6, 0, 1, 9, 0, 7, 0, 0, 3, 6, 9})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 1, 2, 0, 7, 0, 0, 5, 0, 0, 1, 1, 0})
	f.Add([]byte{2, 7, 1, 0, 0, 0, 0, 1, 0, 1, 8, 0, 7, 0, 0, 4, 2, 0})
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 90 {
			return
		}
		compareOutline(t, testenv.LayerScript(prog))
	})
}

// fuzzTar writes headers as a seed archive, each regular file one byte.
func fuzzTar(hs []*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		h.Format = tar.FormatPAX
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = 1
		}
		tw.WriteHeader(h)
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	return buf.Bytes()
}
