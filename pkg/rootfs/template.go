package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/layers"
	"github.com/buildcrew/builder/pkg/overlay"
)

// Template is what a root can be made from instead of unpacking its
// first layers: an unpacked tree to clone, or layers unpacked alone to
// stack (see overlay.Clone and overlay.Stack). Either way the root shares
// the template's inodes by hard links.
type Template struct {
	Clone  string   // a tree to clone
	Stack  []string // layer directories to stack, bottom first
	Layers int      // how many of the root's layers it holds
	// Mount makes the root an overlay of the Stack directories (see
	// Layered) over a clone of Upper's files (a Layered root's over the
	// same layers) or over nothing, instead of linking them; where they
	// cannot be mounted, they are linked (or, with Upper, unpacked).
	Mount bool
	Upper string
}

// fromTemplate makes dir the template's files. Where it cannot link to
// them (another filesystem), it makes nothing and says so.
func (m *Maker) fromTemplate(ctx context.Context, dir string, t *Template) (made bool, err error) {
	defer m.spent("extract", time.Now())
	if t.Clone != "" {
		err = overlay.Clone(ctx, t.Clone, dir)
	} else {
		err = overlay.Stack(ctx, dir, t.Stack, m.trash.Discard)
	}
	if errors.Is(err, syscall.EXDEV) {
		m.opts.Logger.Debug("cannot make the root from another filesystem", "err", err)
		return false, os.RemoveAll(dir)
	}
	if err != nil {
		return false, fmt.Errorf("making the root: %w", err)
	}
	return true, nil
}

// prefetchers is how many layers download at once while the ones before
// them are unpacked.
const prefetchers = 3

// Kept returns ls unpacked alone, in overlayfs's form, in the layer
// directory by diff ID, unpacking those not there yet: a layer unpacked
// once is never unpacked again, for this image or any other that has it,
// in this build or a later one. Directories appear whole (unpacked
// aside, then renamed) and never change, so builds sharing the layer
// directory can use them at once. It fails without a layer directory.
func (m *Maker) Kept(ctx context.Context, ls []v1.Layer) ([]string, error) {
	if m.opts.LayerDir == "" {
		return nil, errors.New("no layer directory to keep layers in")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := cache.LayerDir{Dir: m.opts.LayerDir}
	dirs := make([]string, len(ls))
	var missing []v1.Layer
	var at []int
	for i, l := range ls {
		id, err := l.DiffID()
		if err != nil {
			return nil, err
		}
		var ok bool
		if dirs[i], ok = kept.Unpacked(id); !ok {
			missing, at = append(missing, l), append(at, i)
		}
	}
	if len(missing) == 0 {
		return dirs, nil
	}
	defer m.spent("extract", time.Now())
	p := m.prefetch(ctx, missing)
	defer p.close()
	// Unlike unpacking into one root, layers unpacked alone do not wait
	// for each other: two at once took 1.2 s here where one after the
	// other took 2.1 s.
	var g errgroup.Group
	g.SetLimit(min(runtime.NumCPU(), prefetchers))
	for j, i := range at {
		g.Go(func() error {
			l, err := p.layer(ctx, j)
			if err != nil {
				return err
			}
			start := time.Now()
			err = keep(ctx, kept, withByteCount(ctx, l))
			if err != nil && ctx.Err() == nil {
				if cerr := cache.Recheck(l); cerr != nil {
					err = cerr
				}
			}
			if err != nil {
				return fmt.Errorf("layer %d: %w", i+1, err)
			}
			m.opts.Logger.Debug("unpacked a layer to keep", "layer", dirs[i], "took", time.Since(start))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if cache.StoreFull(err) && m.opts.LayerDirFull != nil {
			m.opts.LayerDirFull(err)
		}
		if errors.Is(err, cache.ErrCorrupt) {
			m.opts.Repaired(err)
		}
		return nil, err
	}
	return dirs, nil
}

// keep unpacks one layer alone into the layer directory. No retries: a
// failure here falls back to unpacking the image, which retries what the
// network breaks; an archive that cannot be unpacked alone would fail
// every time.
func keep(ctx context.Context, kept cache.LayerDir, l v1.Layer) error {
	id, err := l.DiffID()
	if err != nil {
		return err
	}
	_, err = kept.Unpack(id, func(dir string) error {
		// Published only if what was unpacked is the layer its diff ID
		// names.
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		stream, err := layers.Decompress(rc)
		if err != nil {
			return err
		}
		h := sha256.New()
		tee := io.TeeReader(stream, h)
		err = layers.Extract(ctx, dir, tee, layers.ExtractOptions{Whiteouts: true, OverlayForm: true})
		if err == nil {
			_, err = io.Copy(io.Discard, tee)
		}
		if err != nil {
			stream.Stop() // nothing more of the layer is needed
		} else {
			err = stream.Finish()
		}
		if got := hex.EncodeToString(h.Sum(nil)); err == nil && got != id.Hex {
			err = fmt.Errorf("the layer unpacks to sha256:%s, not its diff ID %s", got, id)
		}
		return err
	})
	return err
}
