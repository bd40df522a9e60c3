package build

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
	"github.com/buildcrew/builder/pkg/snapshot"
)

// sharedIgnore is what a build in a shared Root leaves alone: the paths
// given, the work directory and the context, those inside Root.
func sharedIgnore(opts Options, work string) *layers.Ignore {
	var rels []string
	for _, p := range append(append([]string(nil), opts.Ignore...), work, opts.ContextDir) {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(opts.Root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue // outside Root: nothing to protect
		}
		rels = append(rels, rel)
	}
	return layers.NewIgnore(rels...)
}

// claimRoot makes the shared Root hold st. A stage built FROM the stage
// the Root holds takes it over as it is; any other stage has the Root
// emptied (but the ignored paths) and its layers unpacked there.
func (b *builder) claimRoot(ctx context.Context, st *stage) (string, error) {
	prev := b.active
	base := b.plan.Bases[st.index]
	if prev != nil && base.Kind == dockerfile.BaseStage && base.Stage == prev.index && len(st.layers) == len(prev.layers) {
		st.tree, prev.root, prev.tree = prev.tree, "", nil
		st.root, b.active = b.opts.Root, st
		b.opts.Logger.Debug("took over the root filesystem", "stage", st.def.DisplayName(), "from", prev.def.DisplayName())
		return st.root, nil
	}
	if prev != nil {
		prev.root, prev.tree = "", nil
	}
	b.active = nil
	start := time.Now()
	if err := layers.Clear(b.opts.Root, b.ignore); err != nil {
		return "", st.def.Wrap(fmt.Errorf("emptying %s for the stage: %w", b.opts.Root, err))
	}
	if err := b.unpack(ctx, b.opts.Root, st.layers, layers.ExtractOptions{Keep: b.ignore}); err != nil {
		return "", st.def.Wrap(err)
	}
	b.opts.Logger.Debug("unpacked the stage's layers at the root", "stage", st.def.DisplayName(), "root", b.opts.Root,
		"layers", len(st.layers), "took", time.Since(start))
	st.root, b.active = b.opts.Root, st
	return st.root, nil
}

// readRoot returns a finished stage's files for COPY --from. With a shared
// Root that now holds another stage, the stage's layers are unpacked into
// a private directory once.
func (b *builder) readRoot(ctx context.Context, st *stage) (string, error) {
	st.readMu.Lock()
	defer st.readMu.Unlock()
	if st.root != "" && st.outline == nil {
		return st.root, nil
	}
	if b.opts.Root != "" {
		root, err := b.privateRoot(ctx, st)
		if err != nil {
			return "", err
		}
		st.tree = nil
		return root, nil
	}
	return b.rootfs(ctx, st)
}

// walkOptions leaves the ignored paths out of snapshots.
func (b *builder) walkOptions() snapshot.Options {
	if b.ignore == nil {
		return snapshot.Options{}
	}
	return snapshot.Options{Skip: b.ignore.Covers}
}

// cleanup empties a shared Root after the build when asked to.
func (b *builder) cleanup() error {
	if b.opts.Root == "" || !b.opts.Cleanup {
		return nil
	}
	if err := layers.Clear(b.opts.Root, b.ignore); err != nil {
		return fmt.Errorf("cleaning up %s: %w", b.opts.Root, err)
	}
	return nil
}
