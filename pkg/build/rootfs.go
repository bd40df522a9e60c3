package build

import (
	"context"
	"time"

	"github.com/buildcrew/builder/pkg/layers"
	"github.com/buildcrew/builder/pkg/snapshot"
)

// rootfs is a stage's root filesystem: where its files are, what it left
// out while it is only an outline, and the recorded state of its files.
// Only a roots implementation makes one. A private root may be cloned or
// stacked by hard links from another tree (a parent's root, the kept
// layer store): nothing may write into its files in place; every write
// path replaces files, and RUN then runs on an overlay
// (TestKeptLayersStayUnchanged).
type rootfs struct {
	dir string
	// outline, while set, lists the files dir left out (see
	// layers.Outline): directories, symlinks and the user database are
	// there, nothing else of the layers'.
	outline *layers.Outline
	// tree is the recorded state of dir's files, for finding what a RUN
	// changed by walking; nil when unknown.
	tree *snapshot.Tree
	// others is what dir holds that is not the stage's (a shared root's
	// ignored paths): never deleted, unpacked over or recorded.
	others *layers.Ignore
}

// changed forgets the recorded state of the files: they changed.
func (r *rootfs) changed() { r.tree = nil }

// roots makes the stages' root filesystems. It is chosen once per build:
// privateRoots gives each stage a directory of its own in the work
// directory, made the cheapest way the plan allows (cloned, stacked,
// outlined or unpacked); sharedRoot builds every stage in turn in one
// directory, the builder's own "/" in a container (isolation none).
type roots interface {
	// full returns the stage's root with every file of its layers, for
	// steps that read them (RUN, ADD).
	full(ctx context.Context, st *stage) (*rootfs, error)
	// write returns the root COPY and WORKDIR write into: an outline
	// where nothing reads the files, unless users asks for /etc/passwd
	// and /etc/group as the full root has them.
	write(ctx context.Context, st *stage, users bool) (*rootfs, error)
	// read returns a built stage's files for COPY --from.
	read(ctx context.Context, st *stage) (string, error)
	// exclusive tells whether the roots are the builder's own filesystem:
	// stages build one at a time and RUN runs in the root itself, with no
	// overlay and nothing shared by hard links.
	exclusive() bool
	// close ends the build's use of the roots.
	close(ctx context.Context) error
}

var (
	_ roots = (*privateRoots)(nil)
	_ roots = (*sharedRoot)(nil)
)

// snapshot returns the recorded state of the stage's root, walking it
// when unknown.
func (b *builder) snapshot(ctx context.Context, st *stage) (*snapshot.Tree, error) {
	if st.fs.tree != nil {
		return st.fs.tree, nil
	}
	start := time.Now()
	defer b.since("snapshot", start)
	t, err := snapshot.Walk(ctx, st.fs.dir, walkOptions(st.fs))
	if err != nil {
		return nil, err
	}
	b.opts.Logger.Debug("recorded the root filesystem", "stage", st.def.DisplayName(), "paths", t.Len(), "took", time.Since(start))
	st.fs.tree = t
	return t, nil
}

// walkOptions leaves what is not the stage's out of a root's snapshots.
func walkOptions(r *rootfs) snapshot.Options {
	if r.others == nil {
		return snapshot.Options{}
	}
	return snapshot.Options{Skip: r.others.Covers}
}
