package build

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// testRegistry starts ggcr's in-memory registry and returns its host.
func testRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(nopLogger())))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return u.Host
}

// file is one entry of a test layer.
type file struct {
	name, body, link string
	mode             int64
	typ              byte
	uid, gid         int
	xattrs           map[string]string
}

// layerOf makes a layer from entries.
func layerOf(t *testing.T, files ...file) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Typeflag: f.typ, Linkname: f.link, Uid: f.uid, Gid: f.gid,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			if strings.HasSuffix(f.name, "/") {
				h.Typeflag = tar.TypeDir
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		for k, v := range f.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// pushImage pushes an image made of layers with cfg to ref.
func pushImage(t *testing.T, ref string, cfg v1.Config, platform v1.Platform, ls ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return img
}

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// busyboxLayer holds the host's static busybox with its applets linked.
// It skips the test where there is none.
func busyboxLayer(t *testing.T) v1.Layer {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs a static busybox (Debian package busybox-static)")
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	files := []file{
		{name: "bin/"}, {name: "etc/"}, {name: "tmp/", mode: 0o1777}, {name: "root/", mode: 0o700},
		{name: "bin/busybox", body: string(data), mode: 0o755},
		{name: "etc/passwd", body: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n"},
		{name: "etc/group", body: "root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n"},
	}
	for _, app := range []string{"sh", "echo", "cat", "ls", "rm", "mkdir", "touch", "ln", "chmod", "id", "stat", "mv", "printf", "test", "true", "env", "rmdir", "sleep", "wc"} {
		files = append(files, file{name: "bin/" + app, typ: tar.TypeSymlink, link: "busybox", mode: 0o777})
	}
	return layerOf(t, files...)
}

// needRoot skips a test that runs RUN steps without root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("RUN steps need root: chroot isolation uses mount namespaces")
	}
}

// buildIn builds a Dockerfile with a context made of files.
func buildIn(t *testing.T, dockerfile string, files map[string]string, mods ...func(*Options)) (*Result, error) {
	t.Helper()
	dir := t.TempDir()
	files["Dockerfile"] = dockerfile
	if err := testenv.WriteFiles(dir, 0o644, files); err != nil {
		t.Fatal(err)
	}
	opts := Options{ContextDir: dir, WorkDir: t.TempDir()}
	for _, m := range mods {
		m(&opts)
	}
	res, err := Build(context.Background(), opts)
	if res != nil {
		t.Cleanup(func() { res.Close() })
	}
	return res, err
}

func mustBuildIn(t *testing.T, dockerfile string, files map[string]string, mods ...func(*Options)) *Result {
	t.Helper()
	res, err := buildIn(t, dockerfile, files, mods...)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return res
}

// entry is a path of a flattened image.
type entry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Body     string
	Link     string
	Xattrs   map[string]string
	ModTime  time.Time
}

// flatten reads the image's final filesystem with ggcr's own extraction,
// independent of this project's.
func flatten(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		e := entry{Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Body: string(body), Link: h.Linkname, ModTime: h.ModTime}
		for k, v := range h.PAXRecords {
			if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if e.Xattrs == nil {
					e.Xattrs = map[string]string{}
				}
				e.Xattrs[x] = v
			}
		}
		out[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = e
	}
}

// layerNames lists the entries of each layer the build added on top of
// its base's n layers.
func layerNames(t *testing.T, img v1.Image, skip int) [][]string {
	t.Helper()
	return perEntry(t, img, skip, func(h *tar.Header, _ io.Reader) string { return h.Name })
}

// perEntry describes the entries of each of img's layers but the first
// skip ones, layer by layer.
func perEntry(t *testing.T, img v1.Image, skip int, describe func(h *tar.Header, r io.Reader) string) [][]string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, l := range ls[skip:] {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var entries []string
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, describe(h, tr))
		}
		rc.Close()
		out = append(out, entries)
	}
	return out
}

func configOf(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func mustTime(s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm
}

// pushIndex pushes a multi-platform index of images.
func pushIndex(t *testing.T, ref string, imgs ...v1.Image) {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf := configOf(t, img)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
}
