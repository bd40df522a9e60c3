package build

import (
	"context"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// A RUN's layer is written while the stage's next RUN runs: tar and
// compression of a big change (an apt-get install, a copied tree) take as
// long as a short command, and neither needs the other. The next RUN
// leaves the root alone until its command is over (its changes land in
// an overlay's upper directory), so the layer is read from the root, or
// from a mounted root's upper directory, which holds every changed path
// and its parents just as the mount shows them. Whatever changes the root
// settles the pending layer first: the next RUN's merge, and every other
// instruction, which also keeps the history in order.

// pendingLayer is a RUN's layer being written.
type pendingLayer struct {
	done      chan struct{} // closed once layer or err is set
	layer     v1.Layer
	err       error
	took      time.Duration
	changes   int
	createdBy string
	step      *dockerfile.Step // the RUN, for the error's location
	// stored, when set, is called once the layer is the stage's last:
	// the step cache stores the RUN's result then.
	stored func()
}

// writesLater tells whether a RUN's layer is to be written while the
// next step runs: the stage needs its layers, steps run on overlays of a
// private root, and nothing but the stage's own steps wait for the layer
// (no platform waiting to take it; a step cache stores it once written,
// see pendingLayer.stored).
func (b *builder) writesLater(ctx context.Context, st *stage) bool {
	if b.share != nil || b.opts.KeepWorkDir || st.fs == nil || st.fs.Outline != nil || !b.needsLayers(st.index) {
		return false
	}
	_, overlay := b.runs(ctx).(overlayRuns)
	return overlay
}

// writeLater starts writing the layer of a RUN's changes and leaves it
// pending on the stage (see settle).
func (b *builder) writeLater(ctx context.Context, st *stage, changes []layers.Entry, createdBy string) {
	p := &pendingLayer{done: make(chan struct{}), changes: len(changes), createdBy: createdBy}
	from := st.fs.Dir
	if l := st.fs.Layered; l != nil {
		from = l.Upper() // the mount comes and goes with the next RUN
	}
	go func() {
		defer close(p.done)
		start := time.Now()
		p.layer, p.err = b.layer(ctx, from, changes, false)
		p.took = time.Since(start)
	}()
	st.pending = p
}

// located gives the pending layer, if any, the RUN it is for.
func (st *stage) located(step *dockerfile.Step) {
	if p := st.pending; p != nil && p.step == nil {
		p.step = step
	}
}

// settle waits for the stage's pending layer and adds it to the stage;
// a failure is the RUN's.
func (b *builder) settle(st *stage) error {
	p := st.pending
	if p == nil {
		return nil
	}
	st.pending = nil
	<-p.done
	if p.err != nil && p.step != nil {
		return p.step.Wrap(p.err)
	}
	if p.err != nil {
		return p.err
	}
	b.opts.Logger.Debug("RUN layer written", "stage", st.def.DisplayName(), "changes", p.changes, "took", p.took, "meanwhile", true)
	if err := st.commit(p.createdBy, p.layer); err != nil {
		return err
	}
	if p.stored != nil {
		p.stored()
	}
	return nil
}

// abandon waits for a pending layer of a stage that failed, so that
// nothing reads its root any more.
func (st *stage) abandon() {
	if p := st.pending; p != nil {
		st.pending = nil
		<-p.done
	}
}
