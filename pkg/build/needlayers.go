package build

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// needsLayers tells whether the changes of stage i's steps must become
// layer tarballs. They need not when nothing takes them: the stage is in
// no result (no target is it or built FROM it), no needed stage is built
// FROM it, no step cache keeps them, no other platform's build takes
// them, and its root is its own (isolation none moves stages in and out
// of one root by their layers). A build stage whose files are only
// copied from then writes no tarball: its changes stay in its root,
// where COPY --from reads them.
func (b *builder) needsLayers(i int) bool {
	if b.opts.Cache != nil || b.share != nil || b.roots.exclusive() {
		return true
	}
	for _, t := range append([]int{b.plan.Target}, b.plan.Also...) {
		if b.inChainOf(t, i) {
			return true
		}
	}
	for _, j := range b.plan.Needed {
		if base := b.plan.Bases[j]; base.Kind == dockerfile.BaseStage && base.Stage == i {
			return true
		}
	}
	return false
}

// inChainOf tells whether stage i is stage t or one t is built FROM.
func (b *builder) inChainOf(t, i int) bool {
	for ; ; t = b.plan.Bases[t].Stage {
		if t == i {
			return true
		}
		if b.plan.Bases[t].Kind != dockerfile.BaseStage {
			return false
		}
	}
}

// stepLayer is the layer of a step's changes (entries read from root),
// or nil when the stage's layers are not needed (see needsLayers): the
// step's history then says it made none, which no image shows.
func (b *builder) stepLayer(ctx context.Context, st *stage, root string, entries []layers.Entry) (v1.Layer, error) {
	// An outline is made anew from the layers when the files are
	// needed: it always needs them.
	if !b.needsLayers(st.index) && (st.fs == nil || st.fs.Outline == nil) {
		return nil, nil
	}
	return b.layer(ctx, root, entries, false)
}
