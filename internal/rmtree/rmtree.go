// Package rmtree removes directory trees on every core: a stage root of
// thousands of hard links takes as long to delete as to make, and the
// kernel removes entries of different directories at once.
package rmtree

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"
)

// RemoveAll removes path and everything below it, as os.RemoveAll does
// (nil when path does not exist), with subdirectories removed on other
// goroutines while one is free. Symlinks are removed, never followed.
func RemoveAll(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || !fi.IsDir() {
		return os.RemoveAll(path)
	}
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU())
	g.Go(func() error { return removeDir(&g, path) })
	if err := g.Wait(); err != nil {
		// What is left, the plain way, for os.RemoveAll's own error.
		return os.RemoveAll(path)
	}
	return nil
}

// removeDir removes the directory dir: its files here, its subdirectories
// on other goroutines where the group has room, then dir.
func removeDir(g *errgroup.Group, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !e.IsDir() {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				fail(err)
			}
			continue
		}
		wg.Add(1)
		sub := func() error {
			defer wg.Done()
			if err := removeDir(g, p); err != nil {
				fail(err)
			}
			return nil
		}
		if !g.TryGo(sub) {
			sub()
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return os.Remove(dir)
}
