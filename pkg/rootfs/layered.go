package rootfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/buildcrew/builder/internal/xattr"
	"github.com/buildcrew/builder/pkg/overlay"
)

// Layered is a root mounted as an overlay of kept layer directories with
// an upper directory of its own: nothing is linked or copied to make it,
// nothing is left to delete but what the stage wrote, and the layers
// below are never written (overlayfs copies a file up before changing
// it). Its Dir shows the files while it is mounted; a step that changes
// them on an overlay of its own (see StepLayers) unmounts it first.
type Layered struct {
	// Lowers are the kept layer directories, bottom first.
	Lowers []string
	o      *overlay.Overlay
	below  *overlay.Lower
}

// Upper is the directory holding the stage's own files, in overlayfs's
// form.
func (l *Layered) Upper() string { return l.o.Upper }

// StepLayers are the lower directories of an overlay showing the root:
// its upper directory, then its layers, top first.
func (l *Layered) StepLayers() []string { return append([]string{l.o.Upper}, topFirst(l.Lowers)...) }

// Below shows the layers without the stage's own files (for
// overlay.MergeUpper).
func (l *Layered) Below() string { return l.below.Dir }

// Unmount takes the root's overlay away, for its upper directory to
// change.
func (l *Layered) Unmount() error { return l.o.Unmount() }

// Mount mounts the root's overlay again.
func (l *Layered) Mount() error { return l.o.Remount() }

func (l *Layered) unmountAll() error {
	return errors.Join(l.o.Unmount(), l.below.Unmount())
}

func topFirst(dirs []string) []string {
	out := slices.Clone(dirs)
	slices.Reverse(out)
	return out
}

// mountable tells why the kept layer directories cannot be mounted as
// the root's lower layers, or nil: a layer above the bottom one with a
// directory only implied (its metadata would hide the one below, where
// unpacking keeps it), or too many layers for a mount's options.
func mountable(dirs []string, scratch string) error {
	for _, d := range dirs[1:] {
		if v, err := xattr.Get(d, xattr.Whole); err != nil || string(v) != "y" {
			return fmt.Errorf("the layer %s has directories only implied", d)
		}
	}
	// A step's overlay has the root's upper directory on top.
	step := append([]string{filepath.Join(scratch, "upper")}, dirs...)
	if !overlay.Fits(step, filepath.Join(scratch, strings.Repeat("x", 40))) {
		return fmt.Errorf("%d layers are too many to mount", len(dirs))
	}
	return nil
}

// mountLayered mounts the template's layers in dir as a Layered root.
func (m *Maker) mountLayered(ctx context.Context, dir string, t *Template) (*Root, error) {
	defer m.spent("extract", time.Now())
	if err := mountable(t.Stack, dir); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	lowers := topFirst(t.Stack)
	o, err := overlay.MountLayers(lowers, dir, t.Upper)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	below := filepath.Join(dir, "below")
	var lower *overlay.Lower
	if err = os.Mkdir(below, 0o755); err == nil {
		lower, err = overlay.MountLower(lowers, below)
	}
	if err != nil {
		o.Remove()
		return nil, err
	}
	l := &Layered{Lowers: slices.Clone(t.Stack), o: o, below: lower}
	m.mu.Lock()
	m.layered[dir] = l
	m.mu.Unlock()
	return &Root{Dir: o.Merged, Layered: l}, nil
}

// unmountUnder unmounts the layered roots in p, p included, for it to
// be deleted.
func (m *Maker) unmountUnder(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for dir, l := range m.layered {
		if rel, err := filepath.Rel(p, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			errs = append(errs, l.unmountAll())
			delete(m.layered, dir)
		}
	}
	return errors.Join(errs...)
}
