// Package rootfs makes the root filesystems that stages build in, and
// owns each one: where its files are, what it leaves out while it is an
// outline, and the recorded state of its files.
//
// A Maker unpacks image layers into a directory (the later layers
// downloading while the earlier ones unpack), keeps base layers unpacked
// alone by diff ID to stack them, clones trees by hard links, unpacks an
// image once per build for the stages that read or clone it, and deletes
// roots in the background. Which of these a stage gets is the build's
// choice (pkg/build plans it from the Dockerfile); a Shared directory is
// the one root every stage builds in when the builder runs in a
// container and builds at its own "/".
//
// Roots may share inodes with other trees by hard links only while
// nothing writes into a file in place: every write path of the build
// replaces files, and layers unpacked into a live root go through
// Maker.UnpackInto.
package rootfs

import (
	"context"

	"github.com/buildcrew/builder/pkg/layers"
	"github.com/buildcrew/builder/pkg/snapshot"
)

// Root is a stage's root filesystem.
type Root struct {
	// Dir holds the files.
	Dir string
	// Outline, while set, lists the files Dir left out (see
	// layers.Outline): directories, symlinks and the files asked for are
	// there, nothing else of the layers'.
	Outline *layers.Outline
	// Others is what Dir holds that is not the stage's (a shared root's
	// ignored paths): never deleted, unpacked over or recorded.
	Others *layers.Ignore
	// Layered, when set, is the overlay Dir is mounted from.
	Layered *Layered
	// tree is the recorded state of Dir's files; nil when unknown.
	tree *snapshot.Tree
}

// Changed forgets the recorded state of the files: they changed.
func (r *Root) Changed() { r.tree = nil }

// Recorded returns the recorded state of the files, walking them when it
// is unknown; walked tells whether it did.
func (r *Root) Recorded(ctx context.Context) (t *snapshot.Tree, walked bool, err error) {
	if r.tree != nil {
		return r.tree, false, nil
	}
	if r.tree, err = r.Walk(ctx); err != nil {
		return nil, false, err
	}
	return r.tree, true, nil
}

// Walk records the files as they are now, without keeping the record.
func (r *Root) Walk(ctx context.Context) (*snapshot.Tree, error) {
	var opts snapshot.Options
	if r.Others != nil {
		opts.Skip = r.Others.Covers
	}
	return snapshot.Walk(ctx, r.Dir, opts)
}

// Record keeps t as the state of the files, as Walk returned it.
func (r *Root) Record(t *snapshot.Tree) { r.tree = t }
