package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// rootTemplate finds an unpacked tree the stage's root can be cloned from
// (see overlay.Clone) instead of unpacking its layers: its parent stage's
// root, or its base image's, unpacked once for all the stages built on
// it (and, with a base layer directory, for every later build too). It
// returns the tree and how many of the stage's layers it holds, or ""
// when there is none to use: roots are only shared by hard links while
// every RUN goes through an overlay, whose merge replaces files instead
// of writing into them.
func (b *builder) rootTemplate(ctx context.Context, st *stage) (string, int, error) {
	if b.opts.Root != "" || !b.overlays(ctx) {
		return "", 0, nil
	}
	base := b.plan.Bases[st.index]
	switch base.Kind {
	case dockerfile.BaseStage:
		parent := b.stages[base.Stage]
		if parent != nil && !parent.building && parent.root != "" && parent.outline == nil && len(parent.layers) <= len(st.layers) {
			return parent.root, len(parent.layers), nil
		}
	case dockerfile.BaseImage:
		kept := b.opts.BaseLayerDir != ""
		if !kept && b.imageUsers(st.index) < 2 {
			return "", 0, nil // unpacked straight into the stage's root
		}
		platform, err := b.stagePlatform(st.index)
		if err != nil {
			return "", 0, err
		}
		img, err := b.pull(ctx, base.Image, platform)
		if err != nil {
			return "", 0, err
		}
		var root string
		if kept {
			root, err = b.keptImageRoot(ctx, img)
		} else {
			root, err = b.imageRoot(ctx, base.Image, platform)
		}
		if err != nil {
			return "", 0, err
		}
		return root, len(img.layers), nil
	}
	return "", 0, nil
}

// keptImageRoot returns the image's files unpacked in the base layer
// directory, by manifest digest, for this build and the next ones to
// clone: a base unpacked once is never unpacked again. Trees appear
// whole (unpacked aside, then renamed) and are never changed, so builds
// sharing the directory can use them at once.
func (b *builder) keptImageRoot(ctx context.Context, img *baseImage) (string, error) {
	b.rootMu.Lock()
	defer b.rootMu.Unlock()
	roots := filepath.Join(b.opts.BaseLayerDir, "roots")
	dir := filepath.Join(roots, img.digest.Algorithm+"-"+img.digest.Hex)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(roots, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(roots, ".unpacking-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := b.unpack(ctx, tmp, img.layers, layers.ExtractOptions{}); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("%s: %w", img.ref, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(dir); serr != nil {
			return "", err
		}
		// Another build put it there first: the same files.
	}
	return dir, nil
}

// imageUsers counts the stages the build needs that start from the same
// image, for the same platform, as stage i.
func (b *builder) imageUsers(i int) int {
	n := 0
	for _, j := range b.plan.Needed {
		if b.plan.Bases[j].Kind == dockerfile.BaseImage && b.plan.Bases[j].Image == b.plan.Bases[i].Image &&
			b.plan.Platforms[j] == b.plan.Platforms[i] {
			n++
		}
	}
	return n
}
