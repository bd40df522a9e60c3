package overlay

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/layers"
)

// fabricated matches the times of directories made now rather than taken
// from an archive (implied parents): they differ between any two
// extractions and are left out of comparisons.
var fabricated = regexp.MustCompile(`mtime=(\d+)`)

// maskNow masks fabricated times, and with dirTimes false every
// directory's time.
func maskNow(lines []string, dirTimes bool) []string {
	cutoff := time.Now().Add(-time.Hour).UnixNano()
	out := make([]string, len(lines))
	for i, l := range lines {
		isDir := strings.Contains(l, " 40")
		out[i] = fabricated.ReplaceAllStringFunc(l, func(m string) string {
			n, _ := strconv.ParseInt(strings.TrimPrefix(m, "mtime="), 10, 64)
			if n > cutoff || (isDir && !dirTimes) {
				return "mtime=now"
			}
			return m
		})
	}
	return out
}

// compareStack unpacks the layers in order into one directory, and each
// alone in overlayfs's form then stacked, and checks that both trees are
// the same: paths, types, modes, owners, times, contents, links and
// attributes. It reports false when there is nothing to compare: the
// plain extraction fails, or a layer cannot stand alone (a hard link to
// a lower layer's file; builds then unpack the image instead).
// dirTimes compares directories' times too: where layers replace and
// delete things in a directory they do not list themselves, unpacking
// changes its time and stacking may not, so the fuzzer leaves them out.
func compareStack(t *testing.T, ls [][]byte, dirTimes bool) bool {
	t.Helper()
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full")
	must(t, os.Mkdir(full, 0o755))
	for _, l := range ls {
		if !dirTimes && throughSymlink(t, full, l) {
			return false
		}
		if err := layers.Extract(context.Background(), full, bytes.NewReader(l), layers.ExtractOptions{Whiteouts: true}); err != nil {
			return false
		}
		if !dirTimes && throughSymlink(t, full, l) {
			return false
		}
	}
	var dirs []string
	for i, l := range ls {
		d := filepath.Join(tmp, "layer"+strconv.Itoa(i))
		must(t, os.Mkdir(d, 0o755))
		err := layers.Extract(context.Background(), d, bytes.NewReader(l), layers.ExtractOptions{OverlayForm: true})
		if err != nil && strings.Contains(err.Error(), "hardlink target") {
			return false
		}
		if err != nil {
			t.Fatalf("layer %d alone: %v", i+1, err)
		}
		dirs = append(dirs, d)
	}
	stacked := filepath.Join(tmp, "stacked")
	if err := Stack(context.Background(), stacked, dirs, nil); err != nil {
		t.Fatalf("Stack: %v", err)
	}
	if diff := cmp.Diff(maskNow(state(t, full), dirTimes), maskNow(state(t, stacked), dirTimes)); diff != "" {
		t.Errorf("stacked layers differ from unpacked ones (-unpacked +stacked):\n%s", diff)
	}
	return true
}

// throughSymlink tells whether an entry of the layer l has a symlink in
// root among its parents. Such paths depend on what lower layers hold in
// ways a layer alone cannot record in every case (an opaque marker
// through a symlink a later entry replaces, for one): unpacking and
// stacking may differ there, and the fuzzer leaves them out. Real layers
// name real paths; the usr-merge case is in TestStackMatchesExtraction.
func throughSymlink(t *testing.T, root string, l []byte) bool {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(l))
	for {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		name := strings.Trim(filepath.Clean("/"+h.Name), "/")
		for p := filepath.Dir(name); p != "." && p != "/"; p = filepath.Dir(p) {
			if fi, err := os.Lstat(filepath.Join(root, p)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				return true
			}
		}
	}
}

// tarOf writes entries; a regular file's content is its name.
func tarOf(t *testing.T, hs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		h.Format = tar.FormatPAX
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1_700_000_000, 0)
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg && !strings.Contains(h.Name, ".wh.") {
			h.Size = int64(len(h.Name))
		}
		must(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte(h.Name))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func needStackRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("layers in overlayfs's form need root: whiteouts are devices, marks trusted attributes")
	}
}

func TestStackMatchesExtraction(t *testing.T) {
	needStackRoot(t)
	reg := func(n string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeReg} }
	dir := func(n string, mode int64) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: mode} }
	sym := func(n, to string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: to} }
	hard := func(n, to string) *tar.Header { return &tar.Header{Name: n, Typeflag: tar.TypeLink, Linkname: to} }
	tests := []struct {
		name   string
		layers [][]*tar.Header
	}{
		{"whiteouts and opaque directories", [][]*tar.Header{
			{dir("a/", 0o755), reg("a/1"), reg("a/2"), dir("a/sub/", 0o700), reg("a/sub/x"), dir("o/", 0o755), reg("o/old"), reg("c")},
			{reg("a/.wh.1"), reg("a/.wh.sub"), reg(".wh.c"), dir("o/", 0o750), reg("o/new"), reg("o/.wh..wh..opq")},
		}},
		{"implied parents keep lower metadata", [][]*tar.Header{
			{dir("usr/", 0o755), dir("usr/share/", 0o700), reg("usr/share/a")},
			{reg("usr/share/b")},
		}},
		{"usr-merged symlink followed", [][]*tar.Header{
			{dir("usr/", 0o755), dir("usr/lib/", 0o755), sym("lib", "usr/lib"), reg("usr/lib/a")},
			{reg("lib/b"), reg("lib/.wh.a")},
		}},
		{"explicit directory replaces a symlink", [][]*tar.Header{
			{dir("t/", 0o755), sym("l", "t")},
			{dir("l/", 0o711), reg("l/x")},
		}},
		{"types replace each other", [][]*tar.Header{
			{dir("x/", 0o755), reg("x/in"), reg("y"), sym("z", "y")},
			{reg("x"), dir("y/", 0o755), reg("y/in"), reg("z")},
			{dir("x/", 0o755), reg("x/again"), reg(".wh.y")},
		}},
		{"hard links in a layer", [][]*tar.Header{
			{dir("bin/", 0o755), reg("bin/busybox"), hard("bin/sh", "bin/busybox"), hard("bin/ls", "bin/busybox")},
			{reg("bin/.wh.ls")},
		}},
		{"bottom layer with whiteouts, opaque and implied directories", [][]*tar.Header{
			{reg("a/b/c/f"), reg("a/.wh.gone"), reg("w/.wh.x"), dir("o/", 0o750), reg("o/.wh..wh..opq"), reg("o/k"),
				dir("deep/", 0o711), dir("deep/1/", 0o700), dir("deep/1/2/", 0o755), reg("deep/1/2/f"), sym("deep/l", "1"), hard("deep/h", "o/k")},
			{reg("deep/1/2/g"), reg("a/b/.wh.c")},
		}},
		{"a wide bottom layer laid on every core", [][]*tar.Header{wideLayer(40, 5)}},
		{"opaque directory a layer only implies", [][]*tar.Header{
			{dir("d/", 0o750), reg("d/old"), dir("d/sub/", 0o755), reg("d/sub/old")},
			{reg("d/.wh..wh..opq"), reg("d/new")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls [][]byte
			for _, hs := range tt.layers {
				ls = append(ls, tarOf(t, hs...))
			}
			if !compareStack(t, ls, true) {
				t.Fatal("nothing compared: an extraction failed")
			}
		})
	}
}

// FuzzStack compares stacked layer directories with plain extraction for
// generated layers (see testenv.LayerScript).
func FuzzStack(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 0, 1, 3, 0, 7, 0, 0, 4, 1, 0, 1, 1, 0})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 1, 2, 0, 7, 0, 0, 5, 0, 0, 1, 1, 0})
	f.Add([]byte{2, 7, 1, 0, 0, 0, 0, 1, 0, 1, 8, 0, 7, 0, 0, 4, 2, 0})
	f.Fuzz(func(t *testing.T, prog []byte) {
		needStackRoot(t)
		if len(prog) > 90 {
			return
		}
		compareStack(t, testenv.LayerScript(prog), false)
	})
}

// wideLayer is a layer of dirs directories, each holding files files and
// a subdirectory with as many: the bottom layer is laid on every core.
func wideLayer(dirs, files int) []*tar.Header {
	var hs []*tar.Header
	for i := range dirs {
		d := fmt.Sprintf("d%02d/", i)
		hs = append(hs, &tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755 - int64(i%3)*0o10})
		for _, sub := range []string{d, d + "sub/"} {
			if sub != d {
				hs = append(hs, &tar.Header{Name: sub, Typeflag: tar.TypeDir, Mode: 0o700})
			}
			for j := range files {
				hs = append(hs, &tar.Header{Name: fmt.Sprintf("%sf%d", sub, j), Typeflag: tar.TypeReg})
			}
		}
	}
	return hs
}
