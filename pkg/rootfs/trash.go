package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/buildcrew/builder/internal/rmtree"
)

// Trash deletes directories in the background: removing a root of
// thousands of files costs as much as making it, and only the end of the
// build needs it done. A directory is renamed into the trash at once
// (the same filesystem: the work directory) and deleted by a goroutine,
// while the build goes on and pushes.
type Trash struct {
	dir  string
	mu   sync.Mutex
	n    int
	errs []error
	wg   sync.WaitGroup
}

// NewTrash puts what it discards in dir, on the filesystem of what it
// discards.
func NewTrash(dir string) *Trash { return &Trash{dir: dir} }

// Discard takes p away now and deletes it later. Where it cannot be
// moved, it is deleted in line.
func (t *Trash) Discard(p string) error {
	t.mu.Lock()
	t.n++
	aside := filepath.Join(t.dir, strconv.Itoa(t.n))
	t.mu.Unlock()
	if err := os.Rename(p, aside); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return os.RemoveAll(p)
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := rmtree.RemoveAll(aside); err != nil {
			t.mu.Lock()
			t.errs = append(t.errs, err)
			t.mu.Unlock()
		}
	}()
	return nil
}

// Wait returns once everything discarded is deleted.
func (t *Trash) Wait() error {
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	return errors.Join(t.errs...)
}
