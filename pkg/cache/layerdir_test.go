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
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
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

// TestLayerDirVerifies: a kept layer is checked as it is read. A copy cut
// short is stored anew; one whose bytes changed fails the read with
// ErrCorrupt and is removed, so the next read downloads it again.
func TestLayerDirVerifies(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/base:1")
	img, _ := random.Image(4096, 1)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := pulled.Layers()
	d := LayerDir{Dir: t.TempDir()}
	l := d.Wrap(ls[0])
	read := func() error {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(io.Discard, rc)
		return err
	}
	if err := read(); err != nil {
		t.Fatal(err)
	}
	digest, _ := l.Digest()
	stored := filepath.Join(d.Dir, "sha256", digest.Hex)
	good, err := os.ReadFile(stored)
	if err != nil {
		t.Fatal(err)
	}

	os.WriteFile(stored, good[:len(good)/2], 0o600)
	if err := read(); err != nil {
		t.Errorf("a kept copy cut short: %v; want it stored anew", err)
	}
	if again, _ := os.ReadFile(stored); string(again) != string(good) {
		t.Error("the copy cut short was not replaced")
	}

	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0xff
	os.WriteFile(stored, bad, 0o600)
	if err := read(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a changed copy read with %v; want ErrCorrupt", err)
	}
	if _, err := os.Stat(stored); !errors.Is(err, os.ErrNotExist) {
		t.Error("the changed copy is still in the store")
	}
	if err := read(); err != nil {
		t.Errorf("reading after the repair: %v", err)
	}
}

// TestLayerDirSweep: what a dead build left half written goes; what a
// running one is writing stays.
func TestLayerDirSweep(t *testing.T) {
	d := LayerDir{Dir: t.TempDir()}
	store := filepath.Join(d.Dir, "unpacked")
	blobs := filepath.Join(d.Dir, "sha256")
	for _, dir := range []string{store, blobs} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(p string) {
		t.Helper()
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, "half"), nil, 0o644)
	}
	mk(filepath.Join(store, ".unpacking-dead"))
	os.WriteFile(filepath.Join(store, ".unpacking-dead.lock"), nil, 0o600)
	mk(filepath.Join(store, ".unpacking-nolock"))
	mk(filepath.Join(store, ".unpacking-alive"))
	alive, err := os.Create(filepath.Join(store, ".unpacking-alive.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer alive.Close()
	if err := unix.Flock(int(alive.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	old, fresh := filepath.Join(blobs, ".abc.123"), filepath.Join(blobs, ".def.456")
	os.WriteFile(old, []byte("half"), 0o600)
	os.WriteFile(fresh, []byte("half"), 0o600)
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)

	if n := d.Sweep(); n != 3 {
		t.Errorf("Sweep removed %d, want 3", n)
	}
	for _, gone := range []string{".unpacking-dead", ".unpacking-dead.lock", ".unpacking-nolock"} {
		if _, err := os.Stat(filepath.Join(store, gone)); err == nil {
			t.Errorf("%s is still there", gone)
		}
	}
	for _, kept := range []string{filepath.Join(store, ".unpacking-alive"), fresh} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s was removed: %v", kept, err)
		}
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("an old half-written blob is still there")
	}
}
