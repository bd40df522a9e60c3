package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/patternmatcher"

	"github.com/buildcrew/builder/pkg/copier"
	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// linked tells a COPY or ADD whose layer does not depend on what is below
// it: --link, as BuildKit does it (not with --chmod: BuildKit then copies
// onto the stage as usual).
func linked(ins dockerfile.Instruction) bool {
	c, ok := ins.(*dockerfile.Copy)
	return ok && c.Link && c.Chmod == ""
}

// copyLinked executes COPY --link: the sources are copied into an empty
// directory, whose files alone make the layer, so that it is the same
// whatever the stage's base, and its cache entry serves any base (see
// stepKey). The layer is then laid over the stage's root, if it has one
// yet; the base's files are never needed.
func (b *builder) copyLinked(ctx context.Context, st *stage, c *dockerfile.Copy) error {
	src, err := b.copySource(ctx, st, c)
	if err != nil {
		return err
	}
	var opts copier.Options
	if c.Chown != "" {
		if chownByName(c.Chown) {
			return fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", c.Chown)
		}
		uid, gid, err := resolveChown("", c.Chown)
		if err != nil {
			return err
		}
		opts.Owner = &layers.Owner{UID: uid, GID: gid}
	}
	if len(c.Excludes) > 0 {
		if opts.Excludes, err = patternmatcher.New(c.Excludes); err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
	}
	scratch, err := os.MkdirTemp(filepath.Join(b.work, "tmp"), "link-")
	if err != nil {
		return err
	}
	defer b.maker.Discard(scratch)
	cp := copier.New(scratch, src, opts)
	if err := b.copyAll(ctx, cp, src, c, destination(st.config.Config.WorkingDir, c.Dest)); err != nil {
		return err
	}
	layer, err := b.layer(ctx, scratch, cp.Entries(), true)
	if err != nil {
		return err
	}
	if layer != nil && st.fs != nil {
		if err := b.maker.UnpackInto(ctx, st.fs, []v1.Layer{layer}); err != nil {
			return err
		}
	}
	return st.commit(copyHistory(c), layer)
}

// chownByName tells a --chown that names a user or group.
func chownByName(spec string) bool {
	for _, part := range strings.SplitN(spec, ":", 2) {
		if _, err := parseID(part); part != "" && err != nil {
			return true
		}
	}
	return false
}
