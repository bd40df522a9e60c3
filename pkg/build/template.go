package build

import (
	"context"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// rootTemplate finds an unpacked tree the stage's root can be cloned from
// (see overlay.Clone) instead of unpacking its layers: its parent stage's
// root, or its base image's, unpacked once for all the stages built on
// it. It returns the tree and how many of the stage's layers it holds, or
// "" when there is none to use: roots are only shared by hard links while
// every RUN goes through an overlay, whose merge replaces files instead
// of writing into them.
func (b *builder) rootTemplate(ctx context.Context, st *stage) (string, int, error) {
	if b.opts.Root != "" || !b.overlays(ctx) {
		return "", 0, nil
	}
	base := b.plan.Bases[st.index]
	switch base.Kind {
	case dockerfile.BaseStage:
		parent := b.stages[base.Stage]
		if parent != nil && !parent.building && parent.root != "" && len(parent.layers) <= len(st.layers) {
			return parent.root, len(parent.layers), nil
		}
	case dockerfile.BaseImage:
		if b.imageUsers(st.index) < 2 {
			return "", 0, nil // unpacked straight into the stage's root
		}
		platform, err := b.stagePlatform(st.index)
		if err != nil {
			return "", 0, err
		}
		img, err := b.pull(ctx, base.Image, platform)
		if err != nil {
			return "", 0, err
		}
		root, err := b.imageRoot(ctx, base.Image, platform)
		if err != nil {
			return "", 0, err
		}
		return root, len(img.layers), nil
	}
	return "", 0, nil
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
