package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// headers lists the entries of a tar stream as "name type mode uid:gid link".
func headers(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		line := h.Name + " " + string(rune(h.Typeflag+0)) + " " + modeString(h.Mode)
		if h.Linkname != "" {
			line += " -> " + h.Linkname
		}
		if v, ok := h.PAXRecords[paxXattr+"user.test"]; ok {
			line += " xattr=" + v
		}
		out = append(out, line)
	}
}

func modeString(m int64) string { return fmt.Sprintf("%04o", m) }

func TestWriteTar(t *testing.T) {
	root := t.TempDir()
	p := func(s string) string { return filepath.Join(root, s) }
	must(t, os.MkdirAll(p("dir/sub"), 0o755))
	must(t, os.WriteFile(p("dir/file"), []byte("hello"), 0o644))
	must(t, os.Chmod(p("dir/file"), os.ModeSetuid|0o755))
	must(t, os.Link(p("dir/file"), p("dir/hard")))
	must(t, os.Symlink("../dir/file", p("dir/sym")))
	must(t, unix.Lsetxattr(p("dir/file"), "user.test", []byte("v"), 0))
	must(t, os.Mkdir(p("opq"), 0o700))

	entries := []Entry{
		{Path: "dir/sym"}, {Path: "/dir/file"}, {Path: "dir/hard"}, {Path: "dir"},
		{Path: "dir/gone", Kind: Deleted}, {Path: "opq", Kind: Opaque}, {Path: "dir/file"},
	}
	var buf bytes.Buffer
	must(t, WriteTar(context.Background(), &buf, root, entries, TarOptions{}))
	want := []string{
		"dir/ 5 0755",
		"dir/file 0 4755 xattr=v",
		"dir/.wh.gone 0 0000", // where gone would be, as BuildKit writes it
		"dir/hard 1 4755 -> dir/file",
		"dir/sym 2 0777 -> ../dir/file",
		"opq/ 5 0700",
		"opq/.wh..wh..opq 0 0000",
	}
	if diff := cmp.Diff(want, headers(t, buf.Bytes())); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	// The same input gives the same bytes.
	var again bytes.Buffer
	must(t, WriteTar(context.Background(), &again, root, entries, TarOptions{}))
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("WriteTar is not deterministic")
	}
}

// TestWriteTarParents: with Parents every directory above an entry is
// written once, before it, as it is in the root; one that is a symlink
// there is left out; a layer so written, unpacked alone in overlayfs's
// form, is whole.
func TestWriteTarParents(t *testing.T) {
	root := t.TempDir()
	p := func(s string) string { return filepath.Join(root, s) }
	must(t, os.MkdirAll(p("usr/local/bin"), 0o750))
	must(t, os.WriteFile(p("usr/local/bin/x"), []byte("x"), 0o755))
	must(t, os.MkdirAll(p("usr/share/doc"), 0o755))
	must(t, os.Symlink("usr/share", p("share")))
	entries := []Entry{{Path: "usr/local/bin/x"}, {Path: "usr/share/doc", Kind: Opaque}, {Path: "usr/share/gone", Kind: Deleted}, {Path: "share/doc"}}
	var buf bytes.Buffer
	must(t, WriteTar(context.Background(), &buf, root, entries, TarOptions{Parents: true}))
	want := []string{
		"share/doc/ 5 0755", // the symlink share is no parent
		"usr/ 5 0750",
		"usr/local/ 5 0750",
		"usr/local/bin/ 5 0750",
		"usr/local/bin/x 0 0755",
		"usr/share/ 5 0755",
		"usr/share/doc/ 5 0755",
		"usr/share/doc/.wh..wh..opq 0 0000",
		"usr/share/.wh.gone 0 0000",
	}
	if diff := cmp.Diff(want, headers(t, buf.Bytes())); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if os.Geteuid() != 0 {
		t.Skip("unpacking in overlayfs's form needs root")
	}
	for _, tc := range []struct {
		parents bool
		whole   string
	}{{true, "y"}, {false, ""}} {
		var buf bytes.Buffer
		must(t, WriteTar(context.Background(), &buf, root, entries[:1], TarOptions{Parents: tc.parents}))
		dir := t.TempDir()
		must(t, Extract(context.Background(), dir, &buf, ExtractOptions{Whiteouts: true, OverlayForm: true}))
		v, _ := xattr.Get(dir, xattr.Whole)
		if string(v) != tc.whole {
			t.Errorf("parents %v: %s = %q, want %q", tc.parents, xattr.Whole, v, tc.whole)
		}
	}
}

// TestWriteTarMany writes more entries than are read ahead at once,
// small files (read ahead whole) and big ones (read as written), hard
// links among them: every file's content lands under its own name, in
// order, and two runs give the same bytes.
func TestWriteTarMany(t *testing.T) {
	root := t.TempDir()
	var entries []Entry
	want := map[string]string{}
	for i := range 3 * aheadWindow {
		dir := fmt.Sprintf("d%d", i%7)
		must(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
		name := fmt.Sprintf("%s/f%04d", dir, i)
		body := strings.Repeat(fmt.Sprintf("%d,", i), 1+i%5)
		if i%50 == 0 {
			body = strings.Repeat("big", aheadSmall) // bigger than read ahead
		}
		must(t, os.WriteFile(filepath.Join(root, name), []byte(body), 0o644))
		entries = append(entries, Entry{Path: name})
		want[name] = body
		if i%60 == 0 {
			link := name + "-link"
			must(t, os.Link(filepath.Join(root, name), filepath.Join(root, link)))
			entries = append(entries, Entry{Path: link})
			want[link] = "-> " + name
		}
	}
	var first []byte
	for run := range 2 {
		var buf bytes.Buffer
		must(t, WriteTar(context.Background(), &buf, root, entries, TarOptions{Parents: true}))
		got := map[string]string{}
		var names []string
		tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			must(t, err)
			names = append(names, h.Name)
			if h.Typeflag == tar.TypeDir {
				continue
			}
			if h.Typeflag == tar.TypeLink {
				got[h.Name] = "-> " + h.Linkname
				continue
			}
			data, err := io.ReadAll(tr)
			must(t, err)
			got[h.Name] = string(data)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("run %d: contents (-want +got):\n%s", run+1, diff)
		}
		if !sort.StringsAreSorted(names) {
			t.Errorf("run %d: entries out of order", run+1)
		}
		if run == 0 {
			first = buf.Bytes()
		} else if !bytes.Equal(first, buf.Bytes()) {
			t.Error("WriteTar is not deterministic")
		}
	}
}

func TestStore(t *testing.T) {
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "f"), bytes.Repeat([]byte("x"), 1<<20), 0o644))
	var tarBytes bytes.Buffer
	must(t, WriteTar(context.Background(), &tarBytes, root, []Entry{{Path: "f"}}, TarOptions{}))

	f, err := Store(context.Background(), t.TempDir(), Compression{}, func(w io.Writer) error {
		return WriteTar(context.Background(), w, root, []Entry{{Path: "f"}}, TarOptions{})
	})
	must(t, err)
	diffID, _ := f.DiffID()
	if got := sha256Hex(tarBytes.Bytes()); got != diffID.Hex {
		t.Errorf("diffID = %s, want sha256 of the tar %s", diffID.Hex, got)
	}
	compressed, err := os.ReadFile(f.Path())
	must(t, err)
	digest, _ := f.Digest()
	if got := sha256Hex(compressed); got != digest.Hex {
		t.Errorf("digest = %s, want %s", digest.Hex, got)
	}
	size, _ := f.Size()
	if size != int64(len(compressed)) {
		t.Errorf("size = %d, want %d", size, len(compressed))
	}
	rc, err := f.Uncompressed()
	must(t, err)
	defer rc.Close()
	plain, err := io.ReadAll(rc)
	must(t, err)
	if !bytes.Equal(plain, tarBytes.Bytes()) {
		t.Error("Uncompressed does not return the tar")
	}
}

// tarOf writes a tar from headers; a regular file's content is its name.
func tarOf(t *testing.T, hs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		if h.Typeflag == tar.TypeReg && h.Size == 0 && !strings.Contains(h.Name, WhiteoutPrefix) {
			h.Size = int64(len(h.Name))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		h.Format = tar.FormatPAX
		must(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(h.Name)[:h.Size])
			must(t, err)
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func reg(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg} }
func dir(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
func link(name, target string, typ byte) *tar.Header {
	return &tar.Header{Name: name, Typeflag: typ, Linkname: target, Mode: 0o777}
}

// list returns every path under root, with "/" after directories and
// "-> target" after symlinks.
func list(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	must(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.IsDir():
			rel += "/"
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			rel += " -> " + l
		}
		out = append(out, rel)
		return nil
	}))
	sort.Strings(out)
	return out
}

func extract(t *testing.T, root string, data []byte, opts ExtractOptions) {
	t.Helper()
	must(t, Extract(context.Background(), root, bytes.NewReader(data), opts))
}

func TestExtractLayers(t *testing.T) {
	root := t.TempDir()
	lower := tarOf(t, dir("a/"), reg("a/1"), reg("a/2"), dir("a/sub/"), reg("a/sub/x"),
		dir("b/"), reg("b/keep"), reg("b/gone"), reg("c"), dir("d/"), reg("d/inner"))
	extract(t, root, lower, ExtractOptions{Whiteouts: true})

	// The opaque marker comes after some of its directory's new entries:
	// it must still hide only what the lower layer had.
	upper := tarOf(t, dir("a/"), reg("a/new"), dir("a/sub/"), reg("a/sub/y"),
		reg("a/.wh..wh..opq"), reg("b/.wh.gone"), reg("b/.wh.absent"),
		dir("c/"), reg("c/now-a-dir"), reg("d"))
	extract(t, root, upper, ExtractOptions{Whiteouts: true})

	want := []string{"a/", "a/new", "a/sub/", "a/sub/y", "b/", "b/keep", "c/", "c/now-a-dir", "d"}
	if diff := cmp.Diff(want, list(t, root)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

func TestExtractMetadata(t *testing.T) {
	root := t.TempDir()
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC)
	h := reg("bin/tool")
	h.Mode = 0o4750
	h.ModTime = mtime
	h.PAXRecords = map[string]string{paxXattr + "user.test": "value"}
	h.Uid, h.Gid = 5, 6
	d := dir("bin/")
	d.ModTime = mtime
	hard := link("bin/tool2", "bin/tool", tar.TypeLink)
	var written []string
	extract(t, root, tarOf(t, d, h, hard), ExtractOptions{Written: func(rel string, o Owner) {
		written = append(written, fmt.Sprintf("%s %d:%d", rel, o.UID, o.GID))
	}})

	fi, err := os.Stat(filepath.Join(root, "bin/tool"))
	must(t, err)
	if got := fi.Mode() & (os.ModePerm | os.ModeSetuid); got != os.ModeSetuid|0o750 {
		t.Errorf("mode = %v", got)
	}
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("mtime = %v, want %v", fi.ModTime(), mtime)
	}
	di, err := os.Stat(filepath.Join(root, "bin"))
	must(t, err)
	if !di.ModTime().Equal(mtime) {
		t.Errorf("directory mtime = %v, want %v (set after its entries)", di.ModTime(), mtime)
	}
	v := make([]byte, 16)
	n, err := unix.Lgetxattr(filepath.Join(root, "bin/tool"), "user.test", v)
	must(t, err)
	if string(v[:n]) != "value" {
		t.Errorf("xattr = %q", v[:n])
	}
	var a, b unix.Stat_t
	must(t, unix.Stat(filepath.Join(root, "bin/tool"), &a))
	must(t, unix.Stat(filepath.Join(root, "bin/tool2"), &b))
	if a.Ino != b.Ino {
		t.Error("hardlink was not kept")
	}
	// The owners the archive gives, whether or not the files could have
	// them (unprivileged).
	if diff := cmp.Diff([]string{"bin 0:0", "bin/tool 5:6", "bin/tool2 0:0"}, written); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
}

func TestExtractStaysInsideRoot(t *testing.T) {
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("safe"), 0o644))
	tests := []struct {
		name    string
		entries []*tar.Header
		// inside lists what must exist in the root afterwards
		inside []string
	}{
		{"dot-dot", []*tar.Header{reg("../../../../" + outside + "/victim")}, []string{filepath.Join(outside[1:], "victim")}},
		{"absolute", []*tar.Header{reg(outside + "/victim")}, []string{filepath.Join(outside[1:], "victim")}},
		{"through an absolute symlink", []*tar.Header{link("esc", outside, tar.TypeSymlink), reg("esc/victim")}, nil},
		{"through a relative symlink", []*tar.Header{link("esc", "../../../../../../.."+outside, tar.TypeSymlink), reg("esc/victim")}, nil},
		{"hardlink outside", []*tar.Header{link("h", outside+"/victim", tar.TypeLink)}, nil},
		{"whiteout outside", []*tar.Header{link("esc", outside, tar.TypeSymlink), reg("esc/.wh.victim")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			// Errors are allowed (a hardlink to a missing file); escaping is not.
			_ = Extract(context.Background(), root, bytes.NewReader(tarOf(t, tt.entries...)), ExtractOptions{Whiteouts: true})
			data, err := os.ReadFile(filepath.Join(outside, "victim"))
			if err != nil || string(data) != "safe" {
				t.Fatalf("the file outside the root was touched: %q, %v", data, err)
			}
			for _, p := range tt.inside {
				if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
					t.Errorf("%s was not written inside the root: %v", p, err)
				}
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	p := func(s string) string { return filepath.Join(src, s) }
	must(t, os.MkdirAll(p("a/b"), 0o750))
	must(t, os.WriteFile(p("a/b/f"), []byte("content"), 0o640))
	must(t, os.Symlink("b/f", p("a/l")))
	must(t, os.Link(p("a/b/f"), p("a/h")))
	var buf bytes.Buffer
	must(t, WriteTar(context.Background(), &buf, src, []Entry{{Path: "a"}, {Path: "a/b"}, {Path: "a/b/f"}, {Path: "a/l"}, {Path: "a/h"}}, TarOptions{}))
	dst := t.TempDir()
	extract(t, dst, buf.Bytes(), ExtractOptions{Whiteouts: true})
	if diff := cmp.Diff(list(t, src), list(t, dst)); diff != "" {
		t.Errorf("round trip (-src +dst):\n%s", diff)
	}
	var again bytes.Buffer
	must(t, WriteTar(context.Background(), &again, dst, []Entry{{Path: "a"}, {Path: "a/b"}, {Path: "a/b/f"}, {Path: "a/l"}, {Path: "a/h"}}, TarOptions{}))
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("the tar of the extracted tree differs:\n%v\n%v", headers(t, buf.Bytes()), headers(t, again.Bytes()))
	}
}

// TestWhiteoutBelowAFifo checks that a whiteout "inside" a fifo does
// nothing: removing a path below it would open the fifo and wait for a
// writer forever.
func TestWhiteoutBelowAFifo(t *testing.T) {
	root := t.TempDir()
	layer := tarOf(t, &tar.Header{Name: "p", Typeflag: tar.TypeFifo, Mode: 0o644}, reg("p/.wh.x"))
	done := make(chan error, 1)
	go func() {
		done <- Extract(context.Background(), root, bytes.NewReader(layer), ExtractOptions{Whiteouts: true})
	}()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the whiteout below a fifo still hangs after 10 s")
	}
	if diff := cmp.Diff([]string{"p"}, list(t, root)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

// TestWalkOrder: entries go in the order of a walk of the tree, a
// directory's contents before a sibling whose name sorts after it only
// by a character below '/'.
func TestWalkOrder(t *testing.T) {
	got := []string{"etc/apt.conf", "etc/apt/sources", "etc", "etc/apt", "etc-x", "etc/apt/a.b", "etc/apt/a/b"}
	sort.Slice(got, func(i, j int) bool { return walkOrder(got[i], got[j]) })
	want := []string{"etc", "etc/apt", "etc/apt/a/b", "etc/apt/a.b", "etc/apt/sources", "etc/apt.conf", "etc-x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}
