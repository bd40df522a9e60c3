package build

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/buildcrew/builder/pkg/layers"
	"github.com/buildcrew/builder/pkg/overlay"
)

// overlayRuns runs each step on an overlay over the stage's root: its
// upper directory is exactly what the step changed, merged back into the
// root by renames. Roots may then share inodes by hard links: the merge
// replaces files, it never writes into them.
type overlayRuns struct{ b *builder }

func (overlayRuns) linksSafe() bool { return true }

// run runs the step on an overlay whose upper directory collects its
// changes, then merges them into the root. A failed step leaves the root
// as it was, unless the work directory is kept for a look.
func (r overlayRuns) run(ctx context.Context, st *stage, spec *isolation.Spec) ([]layers.Entry, error) {
	b, root := r.b, spec.Root
	if st.fs.Layered != nil {
		return r.runLayered(ctx, st, spec)
	}
	sr, err := r.runOn(ctx, spec, []string{root})
	o := sr.o
	if o != nil {
		defer o.Remove()
	}
	if err != nil {
		if o != nil && b.opts.KeepWorkDir {
			// The root kept for a look shows what the failed step did.
			st.fs.Changed()
			if uerr := o.Unmount(); uerr == nil {
				overlay.Merge(context.WithoutCancel(ctx), o.Upper, root, b.maker.Discard)
			}
		}
		return nil, err
	}
	changes, err := overlay.Changes(ctx, o.Upper, root)
	if err != nil {
		return nil, err
	}
	listed := time.Since(sr.ended)
	waited, err := r.settle(st) // the last RUN's layer reads the root
	if err != nil {
		return nil, err
	}
	st.fs.Changed() // the root is about to change
	if err := overlay.Merge(ctx, o.Upper, root, b.maker.Discard); err != nil {
		return nil, err
	}
	r.finished(st, sr, changes, listed, waited, "overlay", true)
	return changes, nil
}

// runLayered runs the step on an overlay of a mounted root's upper
// directory and layers (the root unmounted meanwhile: its upper directory
// is the step's lower), then moves the step's changes into the root's
// upper directory: no file of the root is linked, copied or renamed but
// those the step changed.
func (r overlayRuns) runLayered(ctx context.Context, st *stage, spec *isolation.Spec) (changes []layers.Entry, err error) {
	b, l := r.b, st.fs.Layered
	if err := l.Unmount(); err != nil {
		return nil, err
	}
	mounted := false
	defer func() {
		if !mounted {
			if merr := l.Mount(); err == nil {
				err = merr
			}
		}
	}()
	sr, err := r.runOn(ctx, spec, l.StepLayers())
	o := sr.o
	if o != nil {
		defer o.Remove()
	}
	if err != nil {
		return nil, err
	}
	// What changed is told against the root as the step found it.
	if err := l.Mount(); err != nil {
		return nil, err
	}
	if changes, err = overlay.Changes(ctx, o.Upper, st.fs.Dir); err != nil {
		return nil, err
	}
	listed := time.Since(sr.ended)
	waited, err := r.settle(st) // the last RUN's layer reads the upper directory
	if err != nil {
		return nil, err
	}
	st.fs.Changed() // the root is about to change
	if err := l.Unmount(); err != nil {
		return nil, err
	}
	if err := overlay.MergeUpper(ctx, o.Upper, l.Upper(), l.Below(), b.maker.Discard); err != nil {
		return nil, err
	}
	mounted = true
	if err := l.Mount(); err != nil {
		return nil, err
	}
	r.finished(st, sr, changes, listed, waited, "overlay", true, "mounted", true)
	return changes, nil
}

// stepRun is a step run on an overlay: the overlay (its upper directory
// holds the step's changes), how long the command took, and when it
// ended, which starts the snapshot phase.
type stepRun struct {
	o     *overlay.Overlay
	ran   time.Duration
	ended time.Time
}

// runOn runs the step on an overlay of lowers (top first), counting its
// time as the run phase, and unmounts the overlay. The overlay is in the
// result also after a failed step (nil if none was mounted): the caller
// removes it.
func (r overlayRuns) runOn(ctx context.Context, spec *isolation.Spec, lowers []string) (stepRun, error) {
	o, err := r.stepOverlay(lowers)
	if err != nil {
		return stepRun{}, err
	}
	onOverlay := *spec
	onOverlay.Root = o.Merged
	start := time.Now()
	if err := r.b.runner.Run(ctx, &onOverlay); err != nil {
		return stepRun{o: o}, err
	}
	sr := stepRun{o: o, ran: time.Since(start), ended: time.Now()}
	r.b.addPhase("run", sr.ran)
	return sr, o.Unmount()
}

// settle adds the last RUN's layer to the stage before the root changes
// (see pendingLayer) and tells how long it waited for it.
func (r overlayRuns) settle(st *stage) (time.Duration, error) {
	start := time.Now()
	err := r.b.settle(st)
	return time.Since(start), err
}

// finished counts the time since the command ended (the step's changes
// listed, after listed, and merged into the root) as the snapshot phase,
// but what it waited for the last RUN's layer (the layer phase has it),
// and says so.
func (r overlayRuns) finished(st *stage, sr stepRun, changes []layers.Entry, listed, waited time.Duration, attrs ...any) {
	merged := time.Since(sr.ended) - waited
	r.b.addPhase("snapshot", merged)
	r.b.opts.Logger.Debug("RUN finished", append([]any{"stage", st.def.DisplayName(), "changes", len(changes), "run", sr.ran,
		"snapshot", merged, "listing", listed, "waited", waited}, attrs...)...)
}

// stepOverlay mounts an overlay of lowers (top first) for a step, in a
// directory of the work directory's that it deletes when removed.
func (r overlayRuns) stepOverlay(lowers []string) (*overlay.Overlay, error) {
	scratch, err := os.MkdirTemp(filepath.Join(r.b.work, "overlays"), "step-")
	if err != nil {
		return nil, err
	}
	return overlay.MountLayers(lowers, scratch, "")
}
