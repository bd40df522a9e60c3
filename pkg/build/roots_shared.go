package build

import (
	"context"
	"fmt"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/rootfs"
)

// sharedRoot builds every stage in turn in one directory (Options.Root):
// kaniko's mode, where the builder runs in a container and the directory
// is its own "/" (see rootfs.Shared).
type sharedRoot struct {
	b       *builder
	dir     *rootfs.Shared
	cleanup bool   // empty dir (but what it spares) when the build ends
	active  *stage // the stage dir holds
}

// newSharedRoot prepares building in opts.Root, sparing the ignored
// paths and the builder's own: the work directory, the context, the base
// layer directory and the cache mounts.
func newSharedRoot(b *builder, opts Options) *sharedRoot {
	spare := append(append([]string(nil), opts.Ignore...), b.work, opts.ContextDir, opts.CacheMountDir)
	if opts.BaseLayerDir != "" {
		spare = append(spare, opts.BaseLayerDir)
	}
	return &sharedRoot{b: b, dir: rootfs.NewShared(opts.Root, spare...), cleanup: opts.Cleanup}
}

func (s *sharedRoot) exclusive() bool { return true }

// full makes the shared directory hold st. A stage built FROM the stage
// the directory holds takes it over as it is; any other stage has it
// emptied (but what it spares) and its layers unpacked there.
func (s *sharedRoot) full(ctx context.Context, st *stage) (*rootfs.Root, error) {
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
	fs, err := b.provision(ctx, st, "unpacking at "+s.dir.Dir(), func(ctx context.Context) (*rootfs.Root, error) {
		fs, err := s.dir.Fill(ctx, b.maker, st.layers)
		if err != nil {
			return nil, fmt.Errorf("making the stage's root: %w", err)
		}
		return fs, nil
	})
	if err != nil {
		return nil, err
	}
	st.fs, s.active = fs, st
	return fs, nil
}

// write is full: the shared directory is never an outline.
func (s *sharedRoot) write(ctx context.Context, st *stage, _ bool) (*rootfs.Root, error) {
	return s.full(ctx, st)
}

// read returns a finished stage's files for COPY --from: the shared
// directory while it holds the stage, else the stage's layers unpacked
// into a private directory, once.
func (s *sharedRoot) read(ctx context.Context, st *stage) (string, error) {
	st.readMu.Lock()
	defer st.readMu.Unlock()
	if st.fs != nil {
		return st.fs.Dir, nil
	}
	fs, err := s.b.unpackRoot(ctx, st, false)
	if err != nil {
		return "", err
	}
	st.fs = fs
	return fs.Dir, nil
}

// close empties the directory after the build when asked to.
func (s *sharedRoot) close(ctx context.Context) error {
	if !s.cleanup {
		return nil
	}
	if err := s.dir.Clear(ctx); err != nil {
		return fmt.Errorf("cleaning up: %w", err)
	}
	return nil
}
