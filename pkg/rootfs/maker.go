package rootfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/internal/spread"
	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/layers"
)

// Options configure a Maker.
type Options struct {
	// Work is the build's work directory: roots go in its roots/,
	// downloads in downloads/ and what is discarded in trash/.
	Work string
	// LayerDir, when set, keeps base layers across builds: compressed by
	// digest, and unpacked alone by diff ID (see cache.LayerDir).
	LayerDir string
	// Retry runs f, retrying what the network breaks; nil runs it once.
	Retry func(ctx context.Context, what string, f func() error) error
	// Spent counts time towards a phase of the build ("extract"); nil
	// counts nothing.
	Spent func(phase string, d time.Duration)
	// Logger hears of what was made and how; nil discards it.
	Logger *slog.Logger
	// LayerDirFull, when set, is told when LayerDir cannot take what the
	// build would keep there (full, read-only): the build goes on
	// without keeping it.
	LayerDirFull func(error)
	// Repaired, when set, is told of an entry of LayerDir that failed
	// verification and was dropped: the layer is fetched anew.
	Repaired func(error)
}

// Maker makes root filesystems from image layers. It is safe for use by
// stages building at once.
type Maker struct {
	opts  Options
	trash *Trash
	// mu makes one image root or one set of kept layers at a time, so
	// that a second stage asking for the same finds it made.
	mu      sync.Mutex
	images  map[string]string   // image roots by the caller's key
	layered map[string]*Layered // mounted roots by directory
	earlyMu sync.Mutex          // guards early (Kept holds mu and reads it)
	early   map[v1.Hash]*early  // layers fetched ahead, by digest (see Fetch)
	// fetching holds a slot per early download going.
	fetching chan struct{}
}

// New returns a Maker working in opts.Work, making its directories there.
func New(opts Options) (*Maker, error) {
	for _, d := range []string{"roots", "downloads", "trash"} {
		if err := os.MkdirAll(filepath.Join(opts.Work, d), 0o700); err != nil {
			return nil, err
		}
	}
	// Each root's files in block groups no tree deleted a moment ago
	// had (see package spread).
	spread.Children(filepath.Join(opts.Work, "roots"))
	if opts.Retry == nil {
		opts.Retry = func(_ context.Context, _ string, f func() error) error { return f() }
	}
	if opts.Spent == nil {
		opts.Spent = func(string, time.Duration) {}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Repaired == nil {
		opts.Repaired = func(error) {}
	}
	if opts.LayerDir != "" {
		// What builds that died left half written.
		if n := (cache.LayerDir{Dir: opts.LayerDir}).Sweep(); n > 0 {
			opts.Logger.Info("removed what a build that died left half written in the layer directory", "entries", n)
		}
	}
	return &Maker{opts: opts, trash: NewTrash(filepath.Join(opts.Work, "trash")), images: map[string]string{}, layered: map[string]*Layered{},
		early: map[v1.Hash]*early{}, fetching: make(chan struct{}, prefetchers)}, nil
}

// Dir is where the root named name lives in the work directory.
func (m *Maker) Dir(name string) string { return filepath.Join(m.opts.Work, "roots", name) }

// Discard takes a directory away now and deletes it in the background,
// unmounting the roots in it first.
func (m *Maker) Discard(dir string) error {
	if err := m.unmountUnder(dir); err != nil {
		return err
	}
	return m.trash.Discard(dir)
}

// Unmount unmounts every root still mounted, for the work directory to
// be deleted.
func (m *Maker) Unmount() error { return m.unmountUnder(m.opts.Work) }

// Wait returns once everything discarded is deleted.
func (m *Maker) Wait() error { return m.trash.Wait() }

// spent counts the time since start towards phase.
func (m *Maker) spent(phase string, start time.Time) { m.opts.Spent(phase, time.Since(start)) }

// Unpack extracts layers in order into dir, applying whiteouts, while the
// later ones download. into tunes the extraction (spared paths,
// outlines); whiteouts always apply.
func (m *Maker) Unpack(ctx context.Context, dir string, ls []v1.Layer, into layers.ExtractOptions) error {
	defer m.spent("extract", time.Now())
	p := m.prefetch(ctx, ls)
	defer p.close()
	for i := range ls {
		l, err := p.layer(ctx, i)
		if err != nil {
			return err
		}
		// Unpacking a layer again over a partial attempt gives the same
		// result: entries replace what they find.
		err = m.opts.Retry(ctx, "unpacking a layer", func() error { return layers.ExtractLayer(ctx, dir, withByteCount(ctx, l), into) })
		if err != nil && !errors.Is(err, cache.ErrCorrupt) && ctx.Err() == nil {
			// A kept copy may be why: checked whole, dropped if damaged.
			if cerr := cache.Recheck(l); cerr != nil {
				err = cerr
			}
		}
		if errors.Is(err, cache.ErrCorrupt) {
			// The kept copy is gone: the layer downloads anew.
			m.opts.Repaired(err)
			err = layers.ExtractLayer(ctx, dir, withByteCount(ctx, l), into)
		}
		if err != nil {
			d, _ := l.Digest()
			return fmt.Errorf("unpacking layer %d (%s): %w", i+1, d, err)
		}
	}
	return nil
}

// UnpackInto extracts layers over a live root: what it spares stays, an
// outline stays one, and the recorded state is forgotten. Extraction
// replaces files, never writes into them, so a root that shares inodes
// with another tree stays safe.
func (m *Maker) UnpackInto(ctx context.Context, r *Root, ls []v1.Layer) error {
	r.Changed()
	return m.Unpack(ctx, r.Dir, ls, layers.ExtractOptions{Spare: r.Others, Outline: r.Outline})
}

// Unpacked makes a root of its own, named name, from ls: from a template
// when there is one that holds the first of them (see Template), the
// rest unpacked over it.
func (m *Maker) Unpacked(ctx context.Context, name string, ls []v1.Layer, tmpl *Template) (*Root, error) {
	dir := m.Dir(name)
	start := time.Now()
	n, made := 0, false
	if tmpl != nil && tmpl.Mount {
		r, err := m.mountLayered(ctx, dir, tmpl)
		if err == nil {
			if err := m.Unpack(ctx, r.Dir, ls[tmpl.Layers:], layers.ExtractOptions{}); err != nil {
				return nil, err
			}
			m.opts.Logger.Debug("mounted a root", "root", name, "layers", len(tmpl.Stack), "unpacked", len(ls)-tmpl.Layers, "took", time.Since(start))
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.opts.Logger.Debug("cannot mount the root's layers: linking them instead", "root", name, "err", err)
		if tmpl.Upper != "" {
			tmpl = nil // a clone of a mounted root's files needs the mount
		}
	}
	if tmpl != nil {
		var err error
		if made, err = m.fromTemplate(ctx, dir, tmpl); err != nil {
			return nil, err
		}
		if made {
			n = tmpl.Layers
		}
	}
	if !made {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := m.Unpack(ctx, dir, ls[n:], layers.ExtractOptions{}); err != nil {
		return nil, err
	}
	m.opts.Logger.Debug("unpacked a root", "root", name, "layers", len(ls)-n, "cloned", made, "took", time.Since(start))
	return &Root{Dir: dir}, nil
}

// Outlined makes an outline of ls, named name, that holds whole the files
// named by keep (see layers.Outline).
func (m *Maker) Outlined(ctx context.Context, name string, ls []v1.Layer, keep ...string) (*Root, error) {
	start := time.Now()
	dir := m.Dir(name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	o := layers.NewOutline(keep...)
	if err := m.Unpack(ctx, dir, ls, layers.ExtractOptions{Outline: o}); err != nil {
		return nil, err
	}
	m.opts.Logger.Debug("unpacked an outline", "root", name, "layers", len(ls), "left out", o.Len(), "took", time.Since(start))
	return &Root{Dir: dir, Outline: o}, nil
}

// ImageRoot returns an image's files unpacked, for reading or cloning
// only, unpacking them the first time key is asked for.
func (m *Maker) ImageRoot(ctx context.Context, key string, ls []v1.Layer) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if root, ok := m.images[key]; ok {
		return root, nil
	}
	dir := m.Dir(fmt.Sprintf("image-%d", len(m.images)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	if err := m.Unpack(ctx, dir, ls, layers.ExtractOptions{}); err != nil {
		return "", err
	}
	m.images[key] = dir
	return dir, nil
}
