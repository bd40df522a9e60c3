package cache

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestLayerDir(t *testing.T) {
	var blobGets atomic.Int32
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			blobGets.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/base:1")
	img, _ := random.Image(2048, 2)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	dir := LayerDir{Dir: t.TempDir()}
	readAll := func() {
		pulled, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		ls, _ := pulled.Layers()
		for _, l := range ls {
			rc, err := dir.Wrap(l).Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatal(err)
			}
			rc.Close()
		}
	}
	readAll()
	first := blobGets.Load()
	readAll()
	if first != 2 || blobGets.Load() != first {
		t.Errorf("layer downloads: %d the first time, %d in all; want 2, then none", first, blobGets.Load())
	}
}

func TestLayerDirUnpack(t *testing.T) {
	d := LayerDir{Dir: t.TempDir()}
	id := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	if _, ok := d.Unpacked(id); ok {
		t.Fatal("a layer is kept before it was unpacked")
	}
	// A failed unpack leaves nothing, not even its aside directory.
	if _, err := d.Unpack(id, func(dir string) error {
		os.WriteFile(filepath.Join(dir, "half"), nil, 0o644)
		return errors.New("broken archive")
	}); err == nil {
		t.Fatal("a failed unpack succeeded")
	}
	if left, _ := os.ReadDir(filepath.Join(d.Dir, "unpacked")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	dir, err := d.Unpack(id, func(dir string) error { return os.WriteFile(filepath.Join(dir, "f"), []byte("one"), 0o644) })
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := d.Unpacked(id); !ok || got != dir {
		t.Errorf("Unpacked = %s, %v; want %s", got, ok, dir)
	}
	// Another build that unpacked it too finds the first one's.
	if again, err := d.Unpack(id, func(dir string) error { return os.WriteFile(filepath.Join(dir, "f"), []byte("one"), 0o644) }); err != nil || again != dir {
		t.Errorf("second Unpack: %s, %v", again, err)
	}
	if fi, err := os.Stat(filepath.Join(d.Dir, "unpacked")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the store: %v, %v; want 0700", fi.Mode(), err)
	}
}
