package push

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// untar unpacks the tarball p into a new directory.
func untar(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPublishIndex: a multi-platform result goes to registries, the
// tarball (an OCI archive), the layout and the digest files as one index.
func TestPublishIndex(t *testing.T) {
	host, _ := startRegistry(t)
	idx, err := random.Index(512, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := idx.Digest()
	dir := t.TempDir()
	opts := Options{
		Destinations: []string{host + "/app:1", host + "/app:2"},
		TarPath:      filepath.Join(dir, "img.tar"), OCILayoutPath: filepath.Join(dir, "layout"),
		DigestFile: filepath.Join(dir, "digest"), IIDFile: filepath.Join(dir, "iid"), MetadataFile: filepath.Join(dir, "metadata.json"),
	}
	names, err := Publish(context.Background(), idx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != host+"/app@"+digest.String() {
		t.Errorf("names = %v", names)
	}
	for _, d := range opts.Destinations {
		ref, _ := name.ParseReference(d)
		got, err := remote.Index(ref)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if gd, _ := got.Digest(); gd != digest {
			t.Errorf("%s has %s, want %s", d, gd, digest)
		}
		if err := validate.Index(got); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	// The tarball is an OCI layout in a tar, naming the index per tag.
	archive, err := layout.ImageIndexFromPath(untar(t, opts.TarPath))
	if err != nil {
		t.Fatalf("the tarball is no OCI layout: %v", err)
	}
	checkTop := func(what string, top v1.ImageIndex, wantNames []string) {
		t.Helper()
		m, err := top.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Manifests) != len(wantNames) {
			t.Fatalf("%s lists %d manifests, want %d", what, len(m.Manifests), len(wantNames))
		}
		for i, d := range m.Manifests {
			if d.Digest != digest || d.MediaType != types.OCIImageIndex || d.Annotations["org.opencontainers.image.ref.name"] != wantNames[i] {
				t.Errorf("%s entry %d: %+v", what, i, d)
			}
		}
		child, err := top.ImageIndex(digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Index(child); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	checkTop("the tarball", archive, []string{"1", "2"})
	lp, err := layout.ImageIndexFromPath(opts.OCILayoutPath)
	if err != nil {
		t.Fatal(err)
	}
	checkTop("the layout", lp, []string{"1", "2"})
	for _, f := range []string{opts.DigestFile, opts.IIDFile} {
		if b, _ := os.ReadFile(f); string(b) != digest.String() {
			t.Errorf("%s holds %q, want the index digest", filepath.Base(f), b)
		}
	}
	var md map[string]any
	data, _ := os.ReadFile(opts.MetadataFile)
	if err := json.Unmarshal(data, &md); err != nil {
		t.Fatal(err)
	}
	desc, _ := md["containerimage.descriptor"].(map[string]any)
	if _, ok := md["containerimage.config.digest"]; ok || md["containerimage.digest"] != digest.String() || desc["mediaType"] != string(types.OCIImageIndex) {
		t.Errorf("metadata file:\n%s", data)
	}
}
