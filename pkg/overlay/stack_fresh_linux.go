package overlay

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

// freshStack lays the bottom layer's directory src into dst, the empty
// root Stack just made. Nothing is below it, so nothing is looked up in
// dst, whiteouts have nothing to delete and no symlink of a lower layer
// is followed: the directories are laid on every core at once. The
// result is what stacker.dir makes of the same layer (the directories'
// metadata set once their contents are in, their times by Stack last).
// An image's first layer is usually most of it (Debian's only one).
func (s *stacker) freshStack(ctx context.Context, src, dst string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	f := &freshLayer{s: s, g: g}
	g.Go(func() error { return f.contents(gctx, src, dst) })
	if err := g.Wait(); err != nil {
		return err
	}
	// Deepest first, as dir does: a directory's own metadata after what
	// is in it.
	sort.Slice(f.dirs, func(i, j int) bool {
		return strings.Count(f.dirs[i].dst, "/") > strings.Count(f.dirs[j].dst, "/")
	})
	for _, d := range f.dirs {
		if err := setDirMetadata(&d.st, d.src, d.dst); err != nil {
			return err
		}
		s.times = append(s.times, dirTimes{d.dst, [2]unix.Timespec{d.st.Atim, d.st.Mtim}})
	}
	return nil
}

// freshLayer is one freshStack.
type freshLayer struct {
	s    *stacker
	g    *errgroup.Group
	mu   sync.Mutex
	dirs []freshDir // made, their metadata still to set
}

type freshDir struct {
	src, dst string
	st       unix.Stat_t
}

// contents lays what the layer directory src holds into dst, new.
func (f *freshLayer) contents(ctx context.Context, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(src) // types from the directory itself: no lstat per file
	if err != nil {
		return err
	}
	for _, e := range entries {
		up, low := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		switch t := e.Type(); {
		case t.IsDir():
			if err := f.dir(ctx, up, low); err != nil {
				return err
			}
			continue
		case t&fs.ModeCharDevice != 0:
			var st unix.Stat_t
			if err := unix.Lstat(up, &st); err != nil {
				return &os.PathError{Op: "lstat", Path: up, Err: err}
			}
			if isWhiteout(&st) {
				continue // nothing below to delete
			}
		}
		if err := os.Link(up, low); err != nil {
			return err
		}
	}
	return nil
}

// dir makes the directory low for the layer directory up and lays its
// contents, on another goroutine when one is free.
func (f *freshLayer) dir(ctx context.Context, up, low string) error {
	var st unix.Stat_t
	if err := unix.Lstat(up, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: up, Err: err}
	}
	opaque, err := isOpaque(up)
	if err != nil {
		return err
	}
	implicit, err := hasMark(up, xattr.Implicit)
	if err != nil {
		return err
	}
	if implicit && !opaque {
		some, err := holdsMoreThanWhiteouts(up)
		if err != nil {
			return err
		}
		if !some {
			return nil // only whiteouts, below a path that does not exist
		}
	}
	if err := os.Mkdir(low, 0o700); err != nil {
		return err
	}
	f.mu.Lock()
	f.dirs = append(f.dirs, freshDir{src: up, dst: low, st: st})
	f.mu.Unlock()
	lay := func() error { return f.contents(ctx, up, low) }
	if f.g.TryGo(lay) {
		return nil
	}
	return lay()
}
