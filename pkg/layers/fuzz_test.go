package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
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
		f.Add(buf.Bytes(), true)
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
