package build

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/buildcrew/builder/pkg/layers"
)

// run executes RUN in the stage's root and turns what changed into a layer.
func (b *builder) run(ctx context.Context, st *stage, c *dockerfile.Run, out io.Writer) error {
	// Before the root: a missing secret fails the step without unpacking.
	secrets, secretEnv, err := b.secrets(c.Mounts)
	if err != nil {
		return err
	}
	fs, err := b.roots.full(ctx, st)
	if err != nil {
		return err
	}
	root := fs.Dir
	spec, err := b.runSpec(st, c, root, out)
	if err != nil {
		return err
	}
	spec.Secrets = secrets
	spec.Env = append(spec.Env, secretEnv...)
	mounts, err := b.mounts(ctx, st, c)
	if err != nil {
		return err
	}
	defer mounts.release()
	spec.Mounts = mounts.mounts
	spec.Env = append(spec.Env, mounts.env...)
	if wait := b.opts.BeforeRun; wait != nil {
		// After the root is made: whatever it waits for is asked while
		// the base is unpacked.
		if err := wait(ctx); err != nil {
			return err
		}
	}
	changes, err := b.runs(ctx).run(ctx, st, spec)
	if err != nil {
		return err
	}
	createdBy := "RUN " + runCommandString(spec.Args, st)
	if len(changes) > 0 && b.writesLater(ctx, st) {
		b.writeLater(ctx, st, changes, createdBy)
		return nil
	}
	start := time.Now()
	layer, err := b.stepLayer(ctx, st, root, changes)
	if err != nil {
		return err
	}
	b.opts.Logger.Debug("RUN layer written", "stage", st.def.DisplayName(), "changes", len(changes), "took", time.Since(start))
	return st.commit(createdBy, layer)
}

// runSpec describes the step's process, its secrets aside.
func (b *builder) runSpec(st *stage, c *dockerfile.Run, root string, out io.Writer) (*isolation.Spec, error) {
	if c.Security == "insecure" && !b.opts.AllowInsecure {
		return nil, errInsecure // from an ONBUILD trigger: the plan saw the rest
	}
	if len(c.Devices) > 0 {
		return nil, devicesError(c.Devices)
	}
	args := c.Args
	if c.Shell {
		args = st.withShell(args)
	}
	id, err := resolveUser(root, st.config.Config.User)
	if err != nil {
		return nil, err
	}
	spec := &isolation.Spec{
		Root: root, Args: args, Env: b.runEnv(st, id), Dir: st.config.Config.WorkingDir,
		UID: id.uid, GID: id.gid, Groups: id.groups, Stdout: out, Stderr: out, Network: c.Network,
		Insecure: c.Security == "insecure",
	}
	if c.Script != nil {
		spec.Files = map[string][]byte{c.Script.Name: []byte(c.Script.Data)}
	}
	return spec, nil
}

// runEnv is the step's environment: ENV and ARG values in scope, the proxy
// build args, and HOME from the user's passwd entry unless set.
func (b *builder) runEnv(st *stage, id identity) []string {
	env := st.vars.Environ()
	for _, kv := range dockerfile.ProxyEnv(b.opts.BuildArgs) {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := st.vars.Get(k); !ok {
			env = append(env, kv)
		}
	}
	if _, ok := st.vars.Get("HOME"); !ok {
		env = append(env, "HOME="+id.home)
	}
	return env
}

// runCommandString words a RUN's history entry as BuildKit does: the
// number of build args and their values, then the command.
func runCommandString(args []string, st *stage) string {
	var kvs []string
	seen := map[string]int{}
	for _, a := range st.args {
		v, ok := st.vars.Get(a.Key)
		if !ok && a.Value != nil {
			v = *a.Value
		}
		if i, ok := seen[a.Key]; ok {
			kvs[i] = a.Key + "=" + v
			continue
		}
		seen[a.Key] = len(kvs)
		kvs = append(kvs, a.Key+"="+v)
	}
	if len(kvs) > 0 {
		kvs = append([]string{fmt.Sprintf("|%d", len(kvs))}, kvs...)
	}
	return strings.Join(append(kvs, args...), " ")
}

// layer writes entries read from root as a compressed layer in the work
// directory. No entries, no layer: it returns nil. A layer that stands
// alone (COPY --link's, a cache mount's) has no parent directories but
// those its entries made: written above a base, the base's stay as they
// are, and the layer is the same over any base. Every other layer has
// them all, as BuildKit's do (see layers.TarOptions.Parents).
func (b *builder) layer(ctx context.Context, root string, entries []layers.Entry, alone bool) (v1.Layer, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	defer b.since("layer", time.Now())
	opts := b.tarOptions()
	opts.Parents = !alone
	f, err := layers.Store(ctx, filepath.Join(b.work, "layers"), layers.Compression{Zstd: b.opts.Zstd, Level: b.opts.CompressionLevel}, func(w io.Writer) error {
		return layers.WriteTar(ctx, w, root, entries, opts)
	})
	if err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	return f, nil
}

// tarOptions sets every new file's time to the build's time when the
// build is reproducible, and clamps them to SOURCE_DATE_EPOCH when asked.
func (b *builder) tarOptions() layers.TarOptions {
	switch {
	case b.opts.Reproducible:
		t := b.now
		return layers.TarOptions{ModTime: &t}
	case b.opts.SourceDateEpoch != nil && b.opts.RewriteTimestamp:
		t := b.opts.SourceDateEpoch.UTC()
		return layers.TarOptions{Clamp: &t}
	}
	return layers.TarOptions{}
}
