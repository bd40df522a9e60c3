package build

import (
	"context"
	"os"
	"path/filepath"

	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/buildcrew/builder/pkg/layers"
	"github.com/buildcrew/builder/pkg/overlay"
)

// stepRuns runs RUN steps in a stage's root and tells what each changed,
// as the entries of its layer. One is chosen per build (see runs).
type stepRuns interface {
	run(ctx context.Context, st *stage, spec *isolation.Spec) ([]layers.Entry, error)
	// linksSafe tells whether roots may share inodes with other trees
	// (a parent's root, the kept layer store) by hard links: true only
	// where every change reaches the root by replacing files.
	linksSafe() bool
}

var (
	_ stepRuns = overlayRuns{}
	_ stepRuns = walkRuns{}
)

// runs returns how this build runs its steps, deciding the first time it
// is asked: on overlays for private roots, unless turned off or
// overlayfs cannot be mounted here; else in the root itself.
func (b *builder) runs(ctx context.Context) stepRuns {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stepRuns == nil {
		b.stepRuns = walkRuns{b}
		if b.overlayWorks() {
			b.stepRuns = overlayRuns{b}
		}
	}
	return b.stepRuns
}

// overlayWorks tells whether RUN can run on an overlay: a private root
// (a shared root is the builder's own filesystem), not turned off, and a
// probe mount works.
func (b *builder) overlayWorks() bool {
	switch {
	case b.roots.exclusive() || b.opts.NoOverlay:
		return false
	case os.Geteuid() != 0:
		b.opts.Logger.Debug("RUN changes are found by walking the root: overlay mounts need root")
		return false
	}
	if err := overlay.Supported(filepath.Join(b.work, "overlays")); err != nil {
		b.opts.Logger.Debug("RUN changes are found by walking the root: no overlayfs", "error", err)
		return false
	}
	return true
}
