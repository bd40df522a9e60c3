package build

import (
	"context"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/rootfs"
)

// rootTemplate finds what the stage's root can be made from instead of
// unpacking its layers: its parent stage's root, its base image's layers
// kept unpacked in the base layer directory, or its base image's root,
// unpacked once for all the stages built on it. It returns nil when there
// is none to use: roots are only shared by hard links while every RUN
// goes through an overlay, whose merge replaces files instead of writing
// into them.
func (b *builder) rootTemplate(ctx context.Context, st *stage) (*rootfs.Template, error) {
	if !b.runs(ctx).linksSafe() {
		return nil, nil
	}
	base := b.plan.Bases[st.index]
	switch base.Kind {
	case dockerfile.BaseStage:
		parent := b.stages[base.Stage]
		if parent != nil && parent.built() && parent.fs != nil && parent.fs.Outline == nil && len(parent.layers) <= len(st.layers) {
			if l := parent.fs.Layered; l != nil {
				// The same layers below, the parent's own files cloned.
				return &rootfs.Template{Stack: l.Lowers, Upper: l.Upper(), Mount: true, Layers: len(parent.layers)}, nil
			}
			return &rootfs.Template{Clone: parent.fs.Dir, Layers: len(parent.layers)}, nil
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
			dirs, err := b.maker.Kept(ctx, img.layers)
			if err == nil {
				return &rootfs.Template{Stack: dirs, Layers: len(img.layers), Mount: b.mountRoots()}, nil
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
		return &rootfs.Template{Clone: root, Layers: len(img.layers)}, nil
	}
	return nil, nil
}

// mountRoots tells whether roots over kept layers are overlays of them
// (see rootfs.Layered) rather than links to their files: not when the
// work directory is kept for a look (it would show the stage's own files
// alone), nor when platforms of one build share roots.
func (b *builder) mountRoots() bool { return !b.opts.KeepWorkDir && b.share == nil }

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
	// A stage FROM --platform=... has the same base on every platform.
	if b.share != nil && b.plan.Platforms[i] != "" {
		n *= b.share.platforms
	}
	return n
}
