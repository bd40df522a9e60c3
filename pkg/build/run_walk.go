package build

import (
	"context"
	"time"

	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/buildcrew/builder/pkg/layers"
	"github.com/buildcrew/builder/pkg/snapshot"
)

// walkRuns runs each step in the stage's root itself and finds its
// changes by comparing the root's metadata before and after: where there
// is no overlayfs, and in a shared root (the builder's own "/"). A step
// writes into files in place, so no root may share inodes with another
// tree.
type walkRuns struct{ b *builder }

func (walkRuns) linksSafe() bool { return false }

func (r walkRuns) run(ctx context.Context, st *stage, spec *isolation.Spec) ([]layers.Entry, error) {
	b := r.b
	before, err := b.snapshot(ctx, st)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := b.runner.Run(ctx, spec); err != nil {
		st.fs.changed() // a failed step may have changed files
		return nil, err
	}
	ran := time.Since(start)
	b.addPhase("run", ran)
	after, err := snapshot.Walk(ctx, spec.Root, walkOptions(st.fs))
	if err != nil {
		return nil, err
	}
	changes := snapshot.Diff(before, after)
	st.fs.tree = after
	walked := time.Since(start) - ran
	b.addPhase("snapshot", walked)
	b.opts.Logger.Debug("RUN finished", "stage", st.def.DisplayName(), "changes", len(changes), "run", ran, "snapshot", walked)
	return changes, nil
}
