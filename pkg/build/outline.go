package build

import (
	"context"
	"os"
	"time"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// userFiles are the files COPY --chown and WORKDIR read in the root, kept
// whole in an outline.
var userFiles = []string{"etc/passwd", "etc/group"}

// writeRoot returns the root COPY and WORKDIR write into, and what it
// left out when it is an outline. A stage whose steps never read its files
// (no RUN, no ADD) and whose files no other stage reads gets an outline of
// its layers (see layers.Outline): its base's files are never created,
// only its directories, symlinks and user database. The layers that COPY
// adds are written as usual. users asks for /etc/passwd and /etc/group as
// the full root has them; an outline where they are links to files it left
// out is filled in.
func (b *builder) writeRoot(ctx context.Context, st *stage, users bool) (string, *layers.Outline, error) {
	if st.root == "" && b.outlineFits(ctx, st) {
		if err := b.outlineRoot(ctx, st); err != nil {
			return "", nil, err
		}
	}
	if st.outline != nil && (!users || st.outline.Holds(st.root, userFiles[0]) && st.outline.Holds(st.root, userFiles[1])) {
		return st.root, st.outline, nil
	}
	root, err := b.rootfs(ctx, st)
	return root, nil, err
}

// outlineFits tells whether the stage is better served by an outline than
// by its files: nothing reads them, and they are not at hand to clone or
// stack. (An outline of Debian takes 0.8 s here, mostly reading the
// layer; stacking its kept layer 0.2 s.)
func (b *builder) outlineFits(ctx context.Context, st *stage) bool {
	if b.opts.Root != "" || st.reads || len(st.layers) == 0 {
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
		if p := b.stages[base.Stage]; p != nil && p.root != "" && p.outline == nil {
			return false // the parent's files clone faster than an outline unpacks
		}
	case dockerfile.BaseImage:
		if b.opts.BaseLayerDir != "" && b.overlays(ctx) {
			return false // its layers are kept: stacked, now or from the next build on
		}
	}
	return true
}

// outlineRoot unpacks an outline of the stage's layers as its root.
func (b *builder) outlineRoot(ctx context.Context, st *stage) error {
	start := time.Now()
	dir := b.rootDir(st)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	o := layers.NewOutline(userFiles...)
	if err := b.unpack(ctx, dir, st.layers, layers.ExtractOptions{Outline: o}); err != nil {
		return st.def.Wrap(err)
	}
	b.opts.Logger.Debug("unpacked an outline of the stage's layers", "stage", st.def.DisplayName(), "layers", len(st.layers),
		"left out", o.Len(), "took", time.Since(start))
	st.root, st.outline = dir, o
	return nil
}

// dropOutline throws the stage's outline away, for its files to be
// unpacked in full: the layers COPY made since are among the stage's.
func (b *builder) dropOutline(st *stage) error {
	b.opts.Logger.Debug("filling in the stage's outline", "stage", st.def.DisplayName())
	if err := b.trash.discard(st.root); err != nil {
		return err
	}
	st.root, st.outline, st.tree = "", nil, nil
	return nil
}

// readsFiles tells whether any of the steps reads the root's files.
func readsFiles(steps []*dockerfile.Step) bool {
	for _, s := range steps {
		if s.Keyword == "RUN" || s.Keyword == "ADD" {
			return true
		}
	}
	return false
}
