package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

type store interface {
	Get(ctx context.Context, key string) (*Entry, error)
	Put(ctx context.Context, key string, e Entry) error
}

// stores makes one store of each kind, with a clock the test moves.
func stores(t *testing.T, clock *time.Time) map[string]store {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/app/cache")
	if err != nil {
		t.Fatal(err)
	}
	nowf := func() time.Time { return *clock }
	return map[string]store{
		"registry": &Registry{Repo: repo, TTL: time.Hour, Now: nowf},
		"layout":   &Layout{Dir: t.TempDir(), TTL: time.Hour, Now: nowf},
	}
}

func TestStores(t *testing.T) {
	clock := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for kind, s := range stores(t, &clock) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			layer, err := random.Layer(512, "application/vnd.oci.image.layer.v1.tar+gzip")
			if err != nil {
				t.Fatal(err)
			}
			if e, err := s.Get(ctx, "missing"); e != nil || err != nil {
				t.Fatalf("missing key: %v, %v", e, err)
			}
			if err := s.Put(ctx, "withlayer", Entry{Layer: layer, CreatedBy: "RUN make", Created: clock}); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "empty", Entry{CreatedBy: "RUN true", Created: clock}); err != nil {
				t.Fatal(err)
			}
			e, err := s.Get(ctx, "withlayer")
			if err != nil || e == nil {
				t.Fatalf("get: %v, %v", e, err)
			}
			want, _ := layer.Digest()
			got, _ := e.Layer.Digest()
			wantDiff, _ := layer.DiffID()
			gotDiff, _ := e.Layer.DiffID()
			if got != want || gotDiff != wantDiff || e.CreatedBy != "RUN make" {
				t.Errorf("entry: layer %s diffID %s by %q; want %s %s", got, gotDiff, e.CreatedBy, want, wantDiff)
			}
			rc, err := e.Layer.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Errorf("reading the cached layer: %v", err)
			}
			rc.Close()
			if e, err := s.Get(ctx, "empty"); err != nil || e == nil || e.Layer != nil || e.CreatedBy != "RUN true" {
				t.Errorf("empty entry: %+v, %v", e, err)
			}
			clock = clock.Add(2 * time.Hour)
			if e, err := s.Get(ctx, "withlayer"); e != nil || err != nil {
				t.Errorf("an expired entry was returned: %+v, %v", e, err)
			}
			clock = clock.Add(-2 * time.Hour)
		})
	}
}

// TestConcurrentWriters has many writers share one layout directory.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			layer, err := random.Layer(256, "application/vnd.oci.image.layer.v1.tar+gzip")
			if err != nil {
				errs <- err
				return
			}
			// Two writers per key, each with its own store value as separate builds have.
			s := &Layout{Dir: dir}
			errs <- s.Put(ctx, fmt.Sprintf("key-%d", i/2), Entry{Layer: layer, CreatedBy: "RUN x", Created: time.Now()})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := &Layout{Dir: dir}
	for i := range 20 {
		e, err := s.Get(ctx, fmt.Sprintf("key-%d", i))
		if err != nil || e == nil {
			t.Fatalf("key-%d: %v, %v", i, e, err)
		}
		rc, err := e.Layer.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	idx, err := s.readIndex()
	if err != nil || len(idx.Manifests) != 20 {
		t.Errorf("index has %d entries (%v), want 20: one per key", len(idx.Manifests), err)
	}
}

// TestEntryInputs: an entry's Inputs come back as they were stored.
func TestEntryInputs(t *testing.T) {
	l := &Layout{Dir: t.TempDir()}
	in := map[string]string{"the instruction": "abc", "the files it reads": "def"}
	if err := l.Put(t.Context(), "k", Entry{CreatedBy: "RUN x", Created: time.Now(), Inputs: in}); err != nil {
		t.Fatal(err)
	}
	e, err := l.Get(t.Context(), "k")
	if err != nil || e == nil {
		t.Fatalf("Get: %v, %v", e, err)
	}
	if len(e.Inputs) != 2 || e.Inputs["the instruction"] != "abc" || e.Inputs["the files it reads"] != "def" {
		t.Errorf("inputs = %v, want %v", e.Inputs, in)
	}
}

// TestLayoutDropsDamagedEntries: an entry whose layer blob is cut short
// or changed, or missing, is found when it is read, dropped from the
// store with ErrCorrupt, and a miss after.
func TestLayoutDropsDamagedEntries(t *testing.T) {
	for name, damage := range map[string]func(p string) error{
		"cut short": func(p string) error { return os.Truncate(p, 10) },
		"changed": func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data[len(data)/2] ^= 0xff
			return os.WriteFile(p, data, 0o600)
		},
		"missing": os.Remove,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := &Layout{Dir: t.TempDir()}
			layer, _ := random.Layer(4096, "application/vnd.oci.image.layer.v1.tar+gzip")
			if err := s.Put(ctx, "k", Entry{Layer: layer, CreatedBy: "RUN make", Created: time.Now()}); err != nil {
				t.Fatal(err)
			}
			d, _ := layer.Digest()
			if err := damage(filepath.Join(s.Dir, "blobs", d.Algorithm, d.Hex)); err != nil {
				t.Fatal(err)
			}
			if e, err := s.Get(ctx, "k"); !errors.Is(err, ErrCorrupt) || e != nil {
				t.Fatalf("Get of a damaged entry: %+v, %v; want ErrCorrupt", e, err)
			}
			if e, err := s.Get(ctx, "k"); e != nil || err != nil {
				t.Errorf("the damaged entry was not dropped: %+v, %v", e, err)
			}
			if err := s.Put(ctx, "k", Entry{Layer: layer, CreatedBy: "RUN make", Created: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if e, err := s.Get(ctx, "k"); e == nil || err != nil {
				t.Errorf("stored again: %+v, %v", e, err)
			}
		})
	}
}
