package build

import (
	"context"
	"path"

	"github.com/buildcrew/builder/pkg/copier"
	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// workdir sets the working directory and creates it, even when nothing
// uses it, owned by the current USER as BuildKit does. Only the
// directories it creates go into its layer.
func (b *builder) workdir(ctx context.Context, st *stage, c *dockerfile.Workdir) error {
	wd := st.setWorkdir(c)
	dir := path.Clean(wd)
	if dir == "/" {
		st.note("WORKDIR /")
		return nil
	}
	fs, err := b.roots.write(ctx, st, st.config.Config.User != "")
	if err != nil {
		return err
	}
	root := fs.Dir
	owner := &layers.Owner{}
	if u := st.config.Config.User; u != "" {
		// Like BuildKit, a user the image does not know makes root-owned
		// directories here; RUN is where an unknown user fails.
		if uid, gid, err := resolveChown(root, u); err == nil {
			owner = &layers.Owner{UID: uid, GID: gid}
		}
	}
	cp := copier.New(root, nil, copier.Options{Owner: owner, Outline: fs.Outline})
	// Only the cleaned path: for "/a/../b" BuildKit makes /b here, and /a
	// is made by a RUN that starts there, as the isolation makes its
	// working directory along the path as written.
	if _, err := cp.MkdirAll(dir); err != nil {
		return err
	}
	entries := cp.Entries()
	if len(entries) > 0 {
		st.fs.Changed()
	}
	layer, err := b.stepLayer(ctx, st, root, entries)
	if err != nil {
		return err
	}
	return st.commit("WORKDIR "+wd, layer)
}

// setWorkdir puts WORKDIR's directory, resolved against the current one,
// into the config and returns it. As in BuildKit, an absolute path is kept
// as written ("/app/" stays "/app/" in the config and the history); a
// relative one is joined to the current directory and cleaned.
func (st *stage) setWorkdir(c *dockerfile.Workdir) string {
	wd := c.Path
	if !path.IsAbs(wd) {
		cur := st.config.Config.WorkingDir
		if cur == "" {
			cur = "/"
		}
		wd = path.Join("/", cur, wd)
	}
	st.config.Config.WorkingDir = wd
	return wd
}
