package build

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
	"github.com/buildcrew/builder/pkg/overlay"
)

// template is what a stage's root can be made from instead of unpacking
// its layers: an unpacked tree to clone, or the image's layers unpacked
// alone to stack (see overlay.Clone and overlay.Stack).
type template struct {
	clone  string   // a tree to clone
	stack  []string // layer directories to stack, bottom first
	layers int      // how many of the stage's layers it holds
}

// make makes dir the template's files.
func (t *template) make(ctx context.Context, dir string, removeDir func(string) error) error {
	if t.clone != "" {
		return overlay.Clone(ctx, t.clone, dir)
	}
	return overlay.Stack(ctx, dir, t.stack, removeDir)
}

// rootTemplate finds what the stage's root can be made from instead of
// unpacking its layers: its parent stage's root, its base image's layers
// kept unpacked in the base layer directory, or its base image's root,
// unpacked once for all the stages built on it. It returns nil when there
// is none to use: roots are only shared by hard links while every RUN
// goes through an overlay, whose merge replaces files instead of writing
// into them.
func (b *builder) rootTemplate(ctx context.Context, st *stage) (*template, error) {
	if !b.runs(ctx).linksSafe() {
		return nil, nil
	}
	base := b.plan.Bases[st.index]
	switch base.Kind {
	case dockerfile.BaseStage:
		parent := b.stages[base.Stage]
		if parent != nil && parent.built() && parent.fs != nil && parent.fs.outline == nil && len(parent.layers) <= len(st.layers) {
			return &template{clone: parent.fs.dir, layers: len(parent.layers)}, nil
		}
	case dockerfile.BaseImage:
		kept := b.opts.BaseLayerDir != ""
		if !kept && b.imageUsers(st.index) < 2 {
			return nil, nil // unpacked straight into the stage's root
		}
		platform, err := b.stagePlatform(st.index)
		if err != nil {
			return nil, err
		}
		img, err := b.pull(ctx, base.Image, platform)
		if err != nil {
			return nil, err
		}
		if kept {
			dirs, err := b.keptLayers(ctx, img)
			if err == nil {
				return &template{stack: dirs, layers: len(img.layers)}, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A layer that cannot stand alone (a hard link to a lower
			// layer's file), or one that failed to download: the image
			// is unpacked whole instead, with retries.
			b.opts.Logger.Debug("cannot keep the image's layers apart", "image", img.ref, "err", err)
		}
		root, err := b.imageRoot(ctx, base.Image, platform)
		if err != nil {
			return nil, err
		}
		return &template{clone: root, layers: len(img.layers)}, nil
	}
	return nil, nil
}

// keptLayers returns the image's layers unpacked alone, in overlayfs's
// form, in the base layer directory by diff ID, unpacking those not there
// yet: a layer unpacked once is never unpacked again, for this image or
// any other that has it, in this build or a later one. Directories appear
// whole (unpacked aside, then renamed) and never change, so builds
// sharing the base layer directory can use them at once.
func (b *builder) keptLayers(ctx context.Context, img *baseImage) ([]string, error) {
	b.rootMu.Lock()
	defer b.rootMu.Unlock()
	kept := cache.LayerDir{Dir: b.opts.BaseLayerDir}
	dirs := make([]string, len(img.layers))
	var missing []v1.Layer
	var at []int
	for i, l := range img.layers {
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
	defer b.since("extract", time.Now())
	p := b.prefetch(ctx, missing)
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
			if err := b.keepLayer(ctx, kept, l); err != nil {
				return fmt.Errorf("%s: layer %d: %w", img.ref, i+1, err)
			}
			b.opts.Logger.Debug("unpacked a layer to keep", "layer", filepath.Base(dirs[i]), "took", time.Since(start))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return dirs, nil
}

// keepLayer unpacks one layer alone into the base layer directory. No
// retries: a failure here falls back to unpacking the image, which
// retries what the network breaks; an archive that cannot be unpacked
// alone would fail every time.
func (b *builder) keepLayer(ctx context.Context, kept cache.LayerDir, l v1.Layer) error {
	id, err := l.DiffID()
	if err != nil {
		return err
	}
	_, err = kept.Unpack(id, func(dir string) error {
		return b.unpackLayer(ctx, dir, l, layers.ExtractOptions{OverlayForm: true})
	})
	return err
}

// imageUsers counts the stages the build needs that start from the same
// image, for the same platform, as stage i.
func (b *builder) imageUsers(i int) int {
	n := 0
	for _, j := range b.plan.Needed {
		if b.plan.Bases[j].Kind == dockerfile.BaseImage && b.plan.Bases[j].Image == b.plan.Bases[i].Image &&
			b.plan.Platforms[j] == b.plan.Platforms[i] {
			n++
		}
	}
	return n
}
