package build

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/buildcrew/builder/pkg/overlay"
	"github.com/buildcrew/builder/pkg/snapshot"
)

// overlays tells whether RUN steps run on an overlay over the stage's
// root, deciding at the first step: private roots only (a shared root is
// the builder's own filesystem), not turned off, and a probe mount works.
func (b *builder) overlays(ctx context.Context) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.useOverlay != nil {
		return *b.useOverlay
	}
	use := false
	switch {
	case b.roots.exclusive() || b.opts.NoOverlay:
	case os.Geteuid() != 0:
		b.opts.Logger.Debug("RUN changes are found by walking the root: overlay mounts need root")
	default:
		if err := overlay.Supported(filepath.Join(b.work, "overlays")); err != nil {
			b.opts.Logger.Debug("RUN changes are found by walking the root: no overlayfs", "error", err)
		} else {
			use = true
		}
	}
	b.useOverlay = &use
	return use
}

// runOnOverlay runs the step on an overlay whose upper directory collects
// its changes, then merges them into the root. A failed step leaves the
// root as it was, unless the work directory is kept for a look.
func (b *builder) runOnOverlay(ctx context.Context, st *stage, spec *isolation.Spec) ([]snapshot.Change, error) {
	root := spec.Root
	scratch, err := os.MkdirTemp(filepath.Join(b.work, "overlays"), "step-")
	if err != nil {
		return nil, err
	}
	o, err := overlay.Mount(root, scratch)
	if err != nil {
		os.Remove(scratch)
		return nil, err
	}
	defer o.Remove()
	onOverlay := *spec
	onOverlay.Root = o.Merged
	start := time.Now()
	if err := b.runner.Run(ctx, &onOverlay); err != nil {
		if b.opts.KeepWorkDir {
			// The root kept for a look shows what the failed step did.
			st.fs.changed()
			if uerr := o.Unmount(); uerr == nil {
				overlay.Merge(context.WithoutCancel(ctx), o.Upper, root, b.trash.discard)
			}
		}
		return nil, err
	}
	ran := time.Since(start)
	b.addPhase("run", ran)
	if err := o.Unmount(); err != nil {
		return nil, err
	}
	changes, err := overlay.Changes(ctx, o.Upper, root)
	if err != nil {
		return nil, err
	}
	listed := time.Since(start) - ran
	st.fs.changed() // the root is about to change
	if err := overlay.Merge(ctx, o.Upper, root, b.trash.discard); err != nil {
		return nil, err
	}
	merged := time.Since(start) - ran
	b.addPhase("snapshot", merged)
	b.opts.Logger.Debug("RUN finished", "stage", st.def.DisplayName(), "changes", len(changes), "run", ran,
		"snapshot", merged, "listing", listed, "overlay", true)
	return changes, nil
}
