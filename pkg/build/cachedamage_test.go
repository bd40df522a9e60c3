package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/cache"
)

// TestDamagedCacheEntry: a step cache whose layer blobs were damaged on
// disk never fails the build: the entries are dropped with a warning, the
// steps run again and store them anew.
func TestDamagedCacheEntry(t *testing.T) {
	r := &scriptedRunner{scripts: map[string]func(string) error{"make": writes("out", "made\n")}}
	dir := t.TempDir()
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": "FROM scratch\nCOPY f /f\nRUN make\n", "f": "x"}); err != nil {
		t.Fatal(err)
	}
	store := &cache.Layout{Dir: t.TempDir()}
	build := func() (*Result, string) {
		t.Helper()
		var progress bytes.Buffer
		res, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir(), Runner: r, Cache: store, Progress: &progress, Reproducible: true})
		if err != nil {
			t.Fatalf("build: %v\n%s", err, progress.String())
		}
		t.Cleanup(func() { res.Close() })
		return res, progress.String()
	}
	first, _ := build()
	r.took()
	blobs, _ := filepath.Glob(filepath.Join(store.Dir, "blobs", "sha256", "*"))
	for _, b := range blobs {
		data, _ := os.ReadFile(b)
		if len(data) > 0 && data[0] != '{' { // the layers, not the JSON
			data[len(data)/2] ^= 0xff
			os.WriteFile(b, data, 0o600)
		}
	}
	again, progress := build()
	if ran := r.took(); !slices.Equal(ran, []string{"make"}) {
		t.Errorf("after the damage ran %v, want the RUN again", ran)
	}
	if !strings.Contains(progress, "damaged entry") {
		t.Errorf("no warning of the damaged entry:\n%s", progress)
	}
	if first.Digest != again.Digest {
		t.Errorf("the image after the repair is %s, before %s", again.Digest, first.Digest)
	}
	// Stored anew: a third build takes every step from the cache.
	build()
	if ran := r.took(); len(ran) != 0 {
		t.Errorf("the third build ran %v", ran)
	}
}
