package build

import (
	"context"

	"github.com/buildcrew/builder/pkg/rootfs"
)

// roots gives the stages their root filesystems (see rootfs.Root),
// choosing per stage how each is made (package rootfs makes them). It is
// chosen once per build:
// privateRoots gives each stage a directory of its own in the work
// directory, made the cheapest way the plan allows (cloned, stacked,
// outlined or unpacked); sharedRoot builds every stage in turn in one
// directory, the builder's own "/" in a container (isolation none).
type roots interface {
	// full returns the stage's root with every file of its layers, for
	// steps that read them (RUN, ADD).
	full(ctx context.Context, st *stage) (*rootfs.Root, error)
	// write returns the root COPY and WORKDIR write into: an outline
	// where nothing reads the files, unless users asks for /etc/passwd
	// and /etc/group as the full root has them.
	write(ctx context.Context, st *stage, users bool) (*rootfs.Root, error)
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
