package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/layers"
)

// layerOf makes a layer of entries: "name/" a directory, "name" a file
// whose content is its name, ".wh.name" a whiteout.
func layerOf(t *testing.T, names ...string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		h := &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Unix(1_700_000_000, 0)}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			h.Size = int64(len(n))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(n))
		}
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// counted counts how often a layer's bytes are read.
type counted struct {
	v1.Layer
	reads *atomic.Int32
}

func (c counted) Compressed() (io.ReadCloser, error) {
	c.reads.Add(1)
	return c.Layer.Compressed()
}

// newMaker returns a Maker on a fresh work directory.
func newMaker(t *testing.T, opts Options) *Maker {
	t.Helper()
	opts.Work = t.TempDir()
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Wait(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// files lists a tree's regular files with their contents, and its
// directories as "name/".
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(p)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func stack(t *testing.T) []v1.Layer {
	return []v1.Layer{
		layerOf(t, "etc/", "etc/passwd", "etc/group", "usr/", "usr/bin/", "usr/bin/tool", "var/", "var/old"),
		layerOf(t, "var/.wh.old", "var/new"),
		layerOf(t, "usr/bin/tool", "usr/bin/.wh.gone", "opt/"),
	}
}

var wantStack = map[string]string{
	"etc/": "", "etc/passwd": "etc/passwd", "etc/group": "etc/group", "usr/": "", "usr/bin/": "",
	"usr/bin/tool": "usr/bin/tool", "var/": "", "var/new": "var/new", "opt/": "",
}

// TestUnpackInOrder applies layers in order, whiteouts included, while
// the later ones download ahead, each read once.
func TestUnpackInOrder(t *testing.T) {
	m := newMaker(t, Options{})
	var reads atomic.Int32
	var ls []v1.Layer
	for _, l := range stack(t) {
		ls = append(ls, counted{l, &reads})
	}
	r, err := m.Unpacked(t.Context(), "stage-0", ls, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantStack, files(t, r.Dir)); diff != "" {
		t.Errorf("root (-want +got):\n%s", diff)
	}
	if n := reads.Load(); n != 3 {
		t.Errorf("the layers were read %d times, want 3", n)
	}
}

// TestUnpackRetries runs every layer through the Retry option, which
// sees a failed first attempt and succeeds with the second.
func TestUnpackRetries(t *testing.T) {
	tries := 0
	m := newMaker(t, Options{Retry: func(ctx context.Context, what string, f func() error) error {
		for {
			tries++
			if err := f(); err == nil || tries > 3 {
				return err
			}
		}
	}})
	l := flaky{Layer: layerOf(t, "a/", "a/f")}
	dir := m.Dir("once")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Unpack(t.Context(), dir, []v1.Layer{&l}, layers.ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if tries != 2 {
		t.Errorf("%d attempts, want 2", tries)
	}
	if diff := cmp.Diff(map[string]string{"a/": "", "a/f": "a/f"}, files(t, dir)); diff != "" {
		t.Errorf("root (-want +got):\n%s", diff)
	}
}

// flaky fails its first read.
type flaky struct {
	v1.Layer
	failed bool
}

func (f *flaky) Compressed() (io.ReadCloser, error) {
	if !f.failed {
		f.failed = true
		return nil, errors.New("connection reset")
	}
	return f.Layer.Compressed()
}

// TestUnpackedFromClone makes a root from a clone of a tree that holds
// its first layer, the rest unpacked over it: the same files as
// unpacking all, the clone's files shared by hard links, and the template
// unchanged by what the later layers replaced or deleted.
func TestUnpackedFromClone(t *testing.T) {
	m := newMaker(t, Options{})
	ls := stack(t)
	parent, err := m.Unpacked(t.Context(), "parent", ls[:1], nil)
	if err != nil {
		t.Fatal(err)
	}
	before := files(t, parent.Dir)
	r, err := m.Unpacked(t.Context(), "child", ls, &Template{Clone: parent.Dir, Layers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantStack, files(t, r.Dir)); diff != "" {
		t.Errorf("root (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, files(t, parent.Dir)); diff != "" {
		t.Errorf("the template changed (-before +after):\n%s", diff)
	}
	var a, b syscall.Stat_t
	syscall.Lstat(filepath.Join(parent.Dir, "etc/passwd"), &a)
	syscall.Lstat(filepath.Join(r.Dir, "etc/passwd"), &b)
	if a.Ino != b.Ino {
		t.Error("the clone does not share the template's files")
	}
}

// TestOutlined keeps the named files and the directories, notes the rest.
func TestOutlined(t *testing.T) {
	m := newMaker(t, Options{})
	r, err := m.Outlined(t.Context(), "outline", stack(t), "etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"etc/": "", "etc/passwd": "etc/passwd", "usr/": "", "usr/bin/": "", "var/": "", "opt/": ""}
	if diff := cmp.Diff(want, files(t, r.Dir)); diff != "" {
		t.Errorf("outline (-want +got):\n%s", diff)
	}
	for _, p := range []string{"etc/group", "usr/bin/tool", "var/new"} {
		if !r.Outline.Has(p) {
			t.Errorf("the outline does not note %s", p)
		}
	}
	if r.Outline.Has("var/old") {
		t.Error("the outline notes a path a later layer deleted")
	}
}

// TestImageRootOnce unpacks an image once however often it is asked for.
func TestImageRootOnce(t *testing.T) {
	m := newMaker(t, Options{})
	var reads atomic.Int32
	ls := []v1.Layer{counted{layerOf(t, "f"), &reads}}
	a, err := m.ImageRoot(t.Context(), "img|linux/amd64", ls)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.ImageRoot(t.Context(), "img|linux/amd64", ls)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.ImageRoot(t.Context(), "img|linux/arm64", ls)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a == c {
		t.Errorf("roots %s, %s, %s: want the first two the same and the third apart", a, b, c)
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("the layer was read %d times, want 2 (once per key)", n)
	}
}

// TestUnpackIntoForgetsRecord unpacks a layer over a live root: spared
// paths stay, and the recorded state is walked again.
func TestUnpackIntoForgetsRecord(t *testing.T) {
	m := newMaker(t, Options{})
	s := NewShared(t.TempDir())
	dir := s.Dir()
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{"mine/keep": "mine"}); err != nil {
		t.Fatal(err)
	}
	s = NewShared(dir, filepath.Join(dir, "mine"), "/elsewhere")
	r, err := s.Fill(t.Context(), m, stack(t)[:1])
	if err != nil {
		t.Fatal(err)
	}
	t1, walked, err := r.Recorded(t.Context())
	if err != nil || !walked {
		t.Fatalf("first record: walked %v, %v", walked, err)
	}
	if _, walked, _ := r.Recorded(t.Context()); walked {
		t.Error("a recorded root was walked again")
	}
	if err := m.UnpackInto(t.Context(), r, []v1.Layer{layerOf(t, "mine/", "mine/over", "etc/.wh.group")}); err != nil {
		t.Fatal(err)
	}
	t2, walked, err := r.Recorded(t.Context())
	if err != nil || !walked {
		t.Fatalf("after unpacking: walked %v, %v", walked, err)
	}
	if t2.Len() != t1.Len()-1 {
		t.Errorf("%d paths recorded after, %d before: want one fewer (spared paths are not recorded)", t2.Len(), t1.Len())
	}
	got := files(t, dir)
	if got["mine/keep"] != "mine" || got["mine/over"] != "" {
		t.Errorf("spared directory changed: %v", got)
	}
	if err := s.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"mine/": "", "mine/keep": "mine"}, files(t, dir)); diff != "" {
		t.Errorf("after Clear (-want +got):\n%s", diff)
	}
}

// TestKeptStacked keeps layers unpacked alone, once across Makers (two
// builds), and stacks a root from them with the files of a full unpack.
func TestKeptStacked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("layers kept in overlayfs's form hold whiteouts as device nodes: needs root")
	}
	layerDir := t.TempDir()
	var reads atomic.Int32
	var ls []v1.Layer
	for _, l := range stack(t) {
		ls = append(ls, counted{l, &reads})
	}
	var dirs []string
	for range 2 {
		m := newMaker(t, Options{LayerDir: layerDir})
		var err error
		if dirs, err = m.Kept(t.Context(), ls); err != nil {
			t.Fatal(err)
		}
		r, err := m.Unpacked(t.Context(), "stage-0", ls, &Template{Stack: dirs, Layers: len(ls)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantStack, files(t, r.Dir)); diff != "" {
			t.Errorf("stacked root (-want +got):\n%s", diff)
		}
	}
	if n := reads.Load(); n != 3 {
		t.Errorf("the layers were read %d times over two builds, want 3", n)
	}
	if _, err := newMaker(t, Options{}).Kept(t.Context(), ls); err == nil {
		t.Error("layers were kept without a layer directory")
	}
}

// TestUnpackedFromEmptyTemplate clones a template that holds no layer (a
// stage with none yet): the clone is the root, nothing is made twice.
func TestUnpackedFromEmptyTemplate(t *testing.T) {
	m := newMaker(t, Options{})
	empty, err := m.Unpacked(t.Context(), "parent", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Unpacked(t.Context(), "child", stack(t)[:1], &Template{Clone: empty.Dir, Layers: 0})
	if err != nil {
		t.Fatalf("from a template of no layer: %v", err)
	}
	if got := files(t, r.Dir)["etc/passwd"]; got != "etc/passwd" {
		t.Errorf("the child's layer was not unpacked over the clone: %q", got)
	}
}
