package build

import (
	"context"
	"fmt"
	"strconv"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/rootfs"
)

// privateRoots gives each stage a root of its own in the work directory,
// made the cheapest way the plan allows: an outline where nothing reads
// the files, else cloned from its parent's or its image's root, stacked
// from kept layers, or unpacked (see rootTemplate).
type privateRoots struct{ b *builder }

func (p *privateRoots) exclusive() bool             { return false }
func (p *privateRoots) close(context.Context) error { return nil }

// full returns the stage's root, unpacking its layers the first time a
// step needs files, and filling in an outline.
func (p *privateRoots) full(ctx context.Context, st *stage) (*rootfs.Root, error) {
	if st.fs != nil && st.fs.Outline != nil {
		if err := p.dropOutline(st); err != nil {
			return nil, err
		}
	}
	if st.fs != nil {
		return st.fs, nil
	}
	fs, err := p.b.unpackRoot(ctx, st, true)
	if err != nil {
		return nil, err
	}
	st.fs = fs
	return fs, nil
}

// write returns the root COPY and WORKDIR write into. A stage whose steps
// never read its files (no RUN, no ADD) and whose files no other stage
// reads gets an outline of its layers (see layers.Outline): its base's
// files are never created, only its directories, symlinks and user
// database. The layers that COPY adds are written as usual. An outline
// whose /etc/passwd or /etc/group is a link to a file it left out is
// filled in when users asks for them.
func (p *privateRoots) write(ctx context.Context, st *stage, users bool) (*rootfs.Root, error) {
	if st.fs == nil && p.outlineFits(ctx, st) {
		if err := p.outlineRoot(ctx, st); err != nil {
			return nil, err
		}
	}
	if o := st.fs; o != nil && o.Outline != nil && (!users || o.Outline.Holds(o.Dir, userFiles[0]) && o.Outline.Holds(o.Dir, userFiles[1])) {
		return o, nil
	}
	return p.full(ctx, st)
}

// read returns a built stage's files for COPY --from, once for stages
// reading them at once.
func (p *privateRoots) read(ctx context.Context, st *stage) (string, error) {
	st.readMu.Lock()
	defer st.readMu.Unlock()
	if share := p.b.share; share != nil && st.fs == nil && st.filesKey != "" {
		// Every step that changed files was taken from elsewhere: the
		// same files another platform's build made may be at hand.
		if dir := share.stageRoot(sharedRootKey(st.index, st.filesKey)); dir != "" {
			return dir, nil
		}
	}
	fs, err := p.full(ctx, st)
	if err != nil {
		return "", err
	}
	return fs.Dir, nil
}

// outlineFits tells whether the stage is better served by an outline than
// by its files: nothing reads them, and they are not at hand to clone or
// stack. (An outline of Debian takes 0.8 s here, mostly reading the
// layer; stacking its kept layer 0.2 s.)
func (p *privateRoots) outlineFits(ctx context.Context, st *stage) bool {
	b := p.b
	if st.reads || len(st.layers) == 0 {
		return false
	}
	for _, j := range b.plan.Needed {
		for _, d := range b.plan.Deps[j] {
			if d == st.index && j != st.index {
				return false // built FROM it or copied from: its files get read
			}
		}
	}
	switch base := b.plan.Bases[st.index]; base.Kind {
	case dockerfile.BaseStage:
		if parent := b.stages[base.Stage]; parent != nil && parent.fs != nil && parent.fs.Outline == nil {
			return false // the parent's files clone faster than an outline unpacks
		}
	case dockerfile.BaseImage:
		if b.opts.BaseLayerDir != "" && b.runs(ctx).linksSafe() {
			return false // its layers are kept: stacked, now or from the next build on
		}
	}
	return true
}

// outlineRoot unpacks an outline of the stage's layers as its root.
func (p *privateRoots) outlineRoot(ctx context.Context, st *stage) error {
	fs, err := p.b.provision(ctx, st, "outlining", func(ctx context.Context) (*rootfs.Root, error) {
		return p.b.maker.Outlined(ctx, stageRoot(st), st.layers, userFiles...)
	})
	if err != nil {
		return err
	}
	st.fs = fs
	return nil
}

// dropOutline throws the stage's outline away, for its files to be
// unpacked in full: the layers COPY made since are among the stage's.
func (p *privateRoots) dropOutline(st *stage) error {
	p.b.opts.Logger.Debug("filling in the stage's outline", "stage", st.def.DisplayName())
	if err := p.b.maker.Discard(st.fs.Dir); err != nil {
		return err
	}
	st.fs = nil
	return nil
}

// stageRoot names the stage's private root, or its outline.
func stageRoot(st *stage) string { return "stage-" + strconv.Itoa(st.index) }

// unpackRoot makes the stage's layers a root of its own, from a template
// (see rootTemplate) when templates allows and there is one.
func (b *builder) unpackRoot(ctx context.Context, st *stage, templates bool) (*rootfs.Root, error) {
	var tmpl *rootfs.Template
	if templates {
		var err error
		if tmpl, err = b.rootTemplate(ctx, st); err != nil {
			return nil, st.def.Wrap(err)
		}
	}
	how := "unpacking"
	switch {
	case tmpl != nil && tmpl.Mount:
		how = "mounting"
	case tmpl != nil:
		how = "cloning and unpacking"
	}
	return b.provision(ctx, st, how, func(ctx context.Context) (*rootfs.Root, error) {
		return b.maker.Unpacked(ctx, stageRoot(st), st.layers, tmpl)
	})
}

// provision makes a stage's root as a progress row of its own, so that
// its time is not charged to the step that first needs the files; the
// row counts the compressed bytes mk reads (under the ctx it gets).
func (b *builder) provision(ctx context.Context, st *stage, how string, mk func(context.Context) (*rootfs.Root, error)) (*rootfs.Root, error) {
	if len(st.layers) == 0 {
		return mk(ctx)
	}
	layers := fmt.Sprintf("%d layers", len(st.layers))
	if len(st.layers) == 1 {
		layers = "1 layer"
	}
	var total int64
	if b.plan.Bases[st.index].Kind == dockerfile.BaseImage {
		// A pulled image's sizes are in its manifest; a stage's own
		// layers may not even be compressed.
		for _, l := range st.layers {
			if n, err := l.Size(); err == nil {
				total += n
			}
		}
	}
	v := b.prog.byteVertex(fmt.Sprintf("[%sinternal] %s the root filesystem (%s)", st.prefix, how, layers), total)
	fs, err := mk(rootfs.WithBytesRead(ctx, v.counter()))
	if err != nil {
		v.fail(err)
		return nil, st.def.Wrap(err)
	}
	v.done()
	return fs, nil
}
