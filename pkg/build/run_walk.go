package build

import (
	"context"
	"path"
	"strings"
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
	start := time.Now()
	before, walked, err := st.fs.Recorded(ctx)
	if err != nil {
		return nil, err
	}
	if walked {
		b.addPhase("snapshot", time.Since(start))
		b.opts.Logger.Debug("recorded the root filesystem", "stage", st.def.DisplayName(), "paths", before.Len(), "took", time.Since(start))
	}
	start = time.Now()
	if err := b.runner.Run(ctx, spec); err != nil {
		st.fs.Changed() // a failed step may have changed files
		return nil, err
	}
	ran := time.Since(start)
	b.addPhase("run", ran)
	after, err := st.fs.Walk(ctx)
	if err != nil {
		return nil, err
	}
	changes := underNoMount(snapshot.Diff(before, after), spec.Mounts)
	st.fs.Record(after)
	diffed := time.Since(start) - ran
	b.addPhase("snapshot", diffed)
	b.opts.Logger.Debug("RUN finished", "stage", st.def.DisplayName(), "changes", len(changes), "run", ran, "snapshot", diffed)
	return changes, nil
}

// underNoMount drops the changes at or under the step's mount targets:
// in isolation none the mounts are put in place as files, and what the
// step did there is the mounts', never the layer's.
func underNoMount(changes []layers.Entry, mounts []isolation.Mount) []layers.Entry {
	if len(mounts) == 0 {
		return changes
	}
	out := changes[:0]
	for _, c := range changes {
		inside := false
		for _, m := range mounts {
			t := strings.TrimPrefix(path.Clean("/"+m.Target), "/")
			if c.Path == t || strings.HasPrefix(c.Path, t+"/") {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, c)
		}
	}
	return out
}
