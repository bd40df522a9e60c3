package build

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// sharedRoot builds every stage in turn in one directory (Options.Root):
// kaniko's mode, where the builder runs in a container and the directory
// is its own "/". What the directory holds that is not a stage's (others:
// the ignored paths, the work directory, the context) is never deleted,
// unpacked over or recorded.
type sharedRoot struct {
	b       *builder
	dir     string
	others  *layers.Ignore
	cleanup bool   // empty dir (but others) when the build ends
	active  *stage // the stage dir holds
}

// newSharedRoot prepares building in opts.Root.
func newSharedRoot(b *builder, opts Options) *sharedRoot {
	var rels []string
	for _, p := range append(append([]string(nil), opts.Ignore...), b.work, opts.ContextDir) {
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
	return &sharedRoot{b: b, dir: opts.Root, others: layers.NewIgnore(rels...), cleanup: opts.Cleanup}
}

func (s *sharedRoot) exclusive() bool { return true }

// full makes the shared directory hold st. A stage built FROM the stage
// the directory holds takes it over as it is; any other stage has it
// emptied (but others) and its layers unpacked there.
func (s *sharedRoot) full(ctx context.Context, st *stage) (*rootfs, error) {
	if st.fs != nil {
		return st.fs, nil
	}
	b, prev := s.b, s.active
	base := b.plan.Bases[st.index]
	if prev != nil && base.Kind == dockerfile.BaseStage && base.Stage == prev.index && len(st.layers) == len(prev.layers) {
		st.fs, prev.fs, s.active = prev.fs, nil, st
		b.opts.Logger.Debug("took over the root filesystem", "stage", st.def.DisplayName(), "from", prev.def.DisplayName())
		return st.fs, nil
	}
	if prev != nil {
		prev.fs = nil
	}
	s.active = nil
	start := time.Now()
	if err := layers.Clear(ctx, s.dir, s.others); err != nil {
		return nil, st.def.Wrap(fmt.Errorf("emptying %s for the stage: %w", s.dir, err))
	}
	if err := b.unpack(ctx, s.dir, st.layers, layers.ExtractOptions{Spare: s.others}); err != nil {
		return nil, st.def.Wrap(err)
	}
	b.opts.Logger.Debug("unpacked the stage's layers at the root", "stage", st.def.DisplayName(), "root", s.dir,
		"layers", len(st.layers), "took", time.Since(start))
	st.fs, s.active = &rootfs{dir: s.dir, others: s.others}, st
	return st.fs, nil
}

// write is full: the shared directory is never an outline.
func (s *sharedRoot) write(ctx context.Context, st *stage, _ bool) (*rootfs, error) {
	return s.full(ctx, st)
}

// read returns a finished stage's files for COPY --from: the shared
// directory while it holds the stage, else the stage's layers unpacked
// into a private directory, once.
func (s *sharedRoot) read(ctx context.Context, st *stage) (string, error) {
	st.readMu.Lock()
	defer st.readMu.Unlock()
	if st.fs != nil {
		return st.fs.dir, nil
	}
	fs, err := s.b.unpackRoot(ctx, st, false)
	if err != nil {
		return "", err
	}
	st.fs = fs
	return fs.dir, nil
}

// close empties the directory after the build when asked to.
func (s *sharedRoot) close(ctx context.Context) error {
	if !s.cleanup {
		return nil
	}
	if err := layers.Clear(ctx, s.dir, s.others); err != nil {
		return fmt.Errorf("cleaning up %s: %w", s.dir, err)
	}
	return nil
}
