package cache

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
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
