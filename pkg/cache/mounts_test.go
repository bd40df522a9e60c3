package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMountsAcquire makes a cache once, gives it back by id, and shares
// it as sharing says: locked waits, private gets a stand-in.
func TestMountsAcquire(t *testing.T) {
	m := Mounts{Dir: filepath.Join(t.TempDir(), "mounts")}
	fills := 0
	fill := func(dir string) error {
		fills++
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "seed"), []byte("x"), 0o644)
	}
	ctx := t.Context()
	a, releaseA, err := m.Acquire(ctx, "go-build", Locked, fill)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a, "seed")); err != nil {
		t.Fatalf("the new cache was not filled: %v", err)
	}
	// Held locked: a second locked user waits (here until its context
	// ends), a private one gets an empty stand-in of its own.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, _, err := m.Acquire(short, "go-build", Locked, fill); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second locked user got the cache while it was held: %v", err)
	}
	p, releaseP, err := m.Acquire(ctx, "go-build", Private, fill)
	if err != nil {
		t.Fatal(err)
	}
	if p == a {
		t.Error("a private user shares the held cache")
	}
	releaseP()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the private stand-in is still there: %v", err)
	}
	releaseA()
	b, releaseB, err := m.Acquire(ctx, "go-build", Shared, fill)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseB()
	if b != a {
		t.Errorf("the same id gave %s, then %s", a, b)
	}
	if fills != 2 {
		t.Errorf("fill ran %d times, want 2 (the cache once, the stand-in once)", fills)
	}
	if _, _, err := m.Acquire(ctx, "go-build", "sometimes", fill); err == nil {
		t.Error("an unknown sharing mode was accepted")
	}
	if fi, err := os.Stat(m.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the store is %v (%v), want 0700", fi.Mode(), err)
	}
}
