package push

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// layerWith makes a layer of regular files (name -> body) and
// directories (names ending in /).
func layerWith(t *testing.T, files ...[2]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f[1]))}
		if f[0][len(f[0])-1] == '/' {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// twoLayers is an image whose second layer deletes a file of the first.
func twoLayers(t *testing.T, marker string) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image,
		layerWith(t, [2]string{"app/", ""}, [2]string{"app/old", "old"}, [2]string{"app/keep", "keep"}),
		layerWith(t, [2]string{"app/.wh.old", ""}, [2]string{"app/new", marker}))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// filesIn lists the regular files under dir with their contents.
func filesIn(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

// TestFilesystemOutputs: buildx's type=local and type=tar write the
// image's files, its layers applied (a whiteout deletes); an index's
// images go under a directory per platform. type=oci writes one image
// as an OCI archive.
func TestFilesystemOutputs(t *testing.T) {
	img := twoLayers(t, "new")
	dir := t.TempDir()
	opts := Options{NoPush: true, FilesystemDir: filepath.Join(dir, "out"), FilesystemTarPath: filepath.Join(dir, "fs.tar"),
		OCIArchivePath: filepath.Join(dir, "oci.tar")}
	if _, err := Publish(context.Background(), img, opts); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"app/keep": "keep", "app/new": "new"}
	if diff := cmp.Diff(want, filesIn(t, opts.FilesystemDir)); diff != "" {
		t.Errorf("type=local (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, filesIn(t, untar(t, opts.FilesystemTarPath))); diff != "" {
		t.Errorf("type=tar (-want +got):\n%s", diff)
	}
	lp, err := layout.ImageIndexFromPath(untar(t, opts.OCIArchivePath))
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	got, err := lp.Image(digest)
	if err != nil {
		t.Fatalf("the OCI archive lacks the image: %v", err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("the OCI archive's image: %v", err)
	}

	amd, arm := twoLayers(t, "amd64"), twoLayers(t, "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	var stdout bytes.Buffer
	opts = Options{NoPush: true, FilesystemDir: filepath.Join(dir, "multi"), FilesystemTarPath: "-", Stdout: &stdout}
	if _, err := Publish(context.Background(), idx, opts); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"linux_amd64/app/keep": "keep", "linux_amd64/app/new": "amd64", "linux_arm64_v8/app/keep": "keep", "linux_arm64_v8/app/new": "arm64"}
	if diff := cmp.Diff(want, filesIn(t, opts.FilesystemDir)); diff != "" {
		t.Errorf("type=local of an index (-want +got):\n%s", diff)
	}
	stdoutTar := filepath.Join(dir, "stdout.tar")
	os.WriteFile(stdoutTar, stdout.Bytes(), 0o644)
	if diff := cmp.Diff(want, filesIn(t, untar(t, stdoutTar))); diff != "" {
		t.Errorf("type=tar,dest=- of an index (-want +got):\n%s", diff)
	}
}

// TestStdoutWithoutWriter: "-" with no Stdout given is an error, not a
// crash.
func TestStdoutWithoutWriter(t *testing.T) {
	img := twoLayers(t, "x")
	for _, o := range []Options{{NoPush: true, TarPath: "-"}, {NoPush: true, OCIArchivePath: "-"}, {NoPush: true, FilesystemTarPath: "-"}} {
		if _, err := Publish(context.Background(), img, o); err == nil {
			t.Errorf("%+v: written to no standard output", o)
		}
	}
}
