package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// outlineKeeps is what the outlines in these tests keep in full.
var outlineKeeps = []string{"etc/passwd"}

// compareOutline extracts the layers in full and as an outline and checks
// that they agree: the same directories and symlinks, the kept files with
// their contents, and every other path the full extraction made noted in
// the outline, nothing more. It reports false when the full extraction
// fails (there is nothing to compare), else true with the outline and the
// outlined root.
func compareOutline(t *testing.T, layers [][]byte) (bool, *Outline, string) {
	t.Helper()
	full, outlined := t.TempDir(), t.TempDir()
	for _, l := range layers {
		if err := Extract(context.Background(), full, bytes.NewReader(l), ExtractOptions{Whiteouts: true}); err != nil {
			return false, nil, ""
		}
	}
	o := NewOutline(outlineKeeps...)
	for _, l := range layers {
		if err := Extract(context.Background(), outlined, bytes.NewReader(l), ExtractOptions{Whiteouts: true, Outline: o}); err != nil {
			t.Fatalf("the full extraction worked, the outline failed: %v", err)
		}
	}
	// Directories and symlinks must match; every other path of the full
	// extraction must be noted in the outline, or written out whole (the
	// files it keeps, wherever their names led).
	var shape, leftOut []string
	for _, p := range list(t, full) {
		name, _, _ := strings.Cut(strings.TrimSuffix(p, "/"), " -> ")
		fi, err := os.Lstat(filepath.Join(full, name))
		must(t, err)
		if fi.IsDir() || fi.Mode()&os.ModeSymlink != 0 {
			shape = append(shape, p)
			continue
		}
		written := false
		if ofi, err := os.Lstat(filepath.Join(outlined, name)); err == nil && ofi.Mode().IsRegular() {
			want, err := os.ReadFile(filepath.Join(full, name))
			must(t, err)
			got, err := os.ReadFile(filepath.Join(outlined, name))
			must(t, err)
			if !bytes.Equal(want, got) {
				t.Errorf("%s: full %q, outline %q", name, want, got)
			}
			written = true
			shape = append(shape, p)
		}
		if o.Has(name) == written {
			t.Errorf("%s: noted in the outline %v, written out %v: want exactly one", name, o.Has(name), written)
		}
		if !written {
			leftOut = append(leftOut, name)
		}
	}
	if diff := cmp.Diff(shape, list(t, outlined)); diff != "" {
		t.Errorf("what is on disk (-full +outline):\n%s", diff)
	}
	if o.Len() != len(leftOut) {
		t.Errorf("the outline notes %d files, the full extraction left out %d: %v", o.Len(), len(leftOut), leftOut)
	}
	for _, k := range outlineKeeps {
		if !o.Holds(outlined, k) {
			continue // the outline says so: its user must fill it in
		}
		want, werr := os.ReadFile(filepath.Join(full, k))
		got, gerr := os.ReadFile(filepath.Join(outlined, k))
		if (werr == nil) != (gerr == nil) || !bytes.Equal(want, got) {
			t.Errorf("kept file %s: full %q (%v), outline %q (%v)", k, want, werr, got, gerr)
		}
	}
	return true, o, outlined
}

func TestOutlineMatchesFullExtraction(t *testing.T) {
	hl := func(name, target string) *tar.Header { return link(name, target, tar.TypeLink) }
	sl := func(name, target string) *tar.Header { return link(name, target, tar.TypeSymlink) }
	fifo := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeFifo, Mode: 0o644} }
	tests := []struct {
		name   string
		layers [][]*tar.Header
		unread bool // etc/passwd cannot be read in the outline
	}{
		{"one layer", [][]*tar.Header{{dir("etc/"), reg("etc/passwd"), reg("etc/hosts"), dir("bin/"), reg("bin/sh"),
			hl("bin/ash", "bin/sh"), sl("bin/ls", "sh"), fifo("pipe")}}, false},
		{"whiteouts", [][]*tar.Header{
			{dir("a/"), reg("a/1"), reg("a/2"), dir("a/sub/"), reg("a/sub/x"), dir("b/"), reg("b/gone"), reg("c")},
			{reg("a/.wh.1"), reg("a/.wh.sub"), reg("b/.wh.gone"), reg(".wh.c")},
		}, false},
		{"opaque keeps what the layer adds", [][]*tar.Header{
			{dir("a/"), reg("a/old"), dir("a/d/"), reg("a/d/old")},
			{dir("a/"), reg("a/new"), dir("a/d/"), reg("a/d/new"), reg("a/.wh..wh..opq")},
		}, false},
		{"file replaces a directory and back", [][]*tar.Header{
			{dir("x/"), reg("x/in"), dir("x/deep/"), reg("x/deep/in"), reg("y")},
			{reg("x"), dir("y/"), reg("y/in")},
			{dir("x/"), reg("x/again")},
		}, false},
		{"whiteout then the same name again", [][]*tar.Header{
			{dir("d/"), reg("d/f")},
			{reg(".wh.d")},
			{dir("d/"), reg("d/g")},
		}, false},
		{"through a symlinked directory", [][]*tar.Header{
			{dir("usr/"), dir("usr/lib/"), sl("lib", "usr/lib"), reg("usr/lib/a")},
			{reg("lib/b"), reg("lib/.wh.a")},
		}, false},
		{"user database replaced by a link", [][]*tar.Header{
			{dir("etc/"), reg("etc/passwd"), reg("etc/passwd-")},
			{hl("etc/passwd", "etc/passwd-")},
		}, true},
		{"user database is a symlink", [][]*tar.Header{
			{dir("etc/"), reg("etc/passwd.real"), sl("etc/passwd", "passwd.real")},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls [][]byte
			for _, hs := range tt.layers {
				ls = append(ls, tarOf(t, hs...))
			}
			ok, o, root := compareOutline(t, ls)
			if !ok {
				t.Fatal("the full extraction failed")
			}
			if got := o.Holds(root, "etc/passwd"); got == tt.unread {
				t.Errorf("Holds(etc/passwd) = %v, want %v", got, !tt.unread)
			}
		})
	}
}

// TestMkdirAllOverOutlinedFile checks that a directory cannot be made
// where the outline left out a file, directly or through a symlink, with
// the error the full filesystem gives.
func TestMkdirAllOverOutlinedFile(t *testing.T) {
	layer := tarOf(t, dir("etc/"), reg("etc/file"), link("etc/link", "file", tar.TypeSymlink))
	full, outlined := t.TempDir(), t.TempDir()
	extract(t, full, layer, ExtractOptions{Whiteouts: true})
	o := NewOutline()
	extract(t, outlined, layer, ExtractOptions{Whiteouts: true, Outline: o})
	for _, rel := range []string{"etc/file", "etc/file/sub", "etc/link/sub"} {
		_, ferr := MkdirAll(full, rel, nil, nil)
		_, oerr := MkdirAll(outlined, rel, o, nil)
		if ferr == nil || oerr == nil || ferr.Error() != oerr.Error() {
			t.Errorf("MkdirAll %s: full %v, outline %v", rel, ferr, oerr)
		}
	}
	if _, err := MkdirAll(outlined, "etc/new/sub", o, nil); err != nil {
		t.Errorf("MkdirAll of a new directory in an outline: %v", err)
	}
}
