package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"

	"github.com/buildcrew/builder/pkg/copier"
	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// copy executes COPY and ADD: it copies into the stage's root and makes the
// layer from exactly the paths it wrote, without walking the filesystem.
func (b *builder) copy(ctx context.Context, st *stage, c *dockerfile.Copy) error {
	if linked(c) {
		return b.copyLinked(ctx, st, c)
	}
	// A stage with an ADD reads its files (archives unpack over them):
	// roots.write gives it the full root, never an outline.
	fs, err := b.roots.write(ctx, st, c.Chown != "")
	if err != nil {
		return err
	}
	root := fs.Dir
	src, err := b.copySource(ctx, st, c)
	if err != nil {
		return err
	}
	opts := copier.Options{Outline: fs.Outline}
	if c.Chown != "" {
		uid, gid, err := resolveChown(root, c.Chown)
		if err != nil {
			return err
		}
		opts.Owner = &layers.Owner{UID: uid, GID: gid}
	}
	if c.Chmod != "" {
		if opts.Mode, err = copier.ParseChmod(c.Chmod); err != nil {
			return err
		}
	}
	if len(c.Excludes) > 0 {
		if opts.Excludes, err = patternmatcher.New(c.Excludes); err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
	}
	cp := copier.New(root, src, opts)
	dest := destination(st.config.Config.WorkingDir, c.Dest)
	if err := b.copyAll(ctx, cp, src, c, dest); err != nil {
		return err
	}
	st.fs.Changed() // the recorded state no longer matches the root
	layer, err := b.stepLayer(ctx, st, root, cp.Entries())
	if err != nil {
		return err
	}
	return st.commit(copyHistory(c), layer)
}

// resolveSource finds what a COPY source names: with --parents each
// match keeps its path below the source's pivot (see
// copier.Source.ResolveParents).
func resolveSource(src *copier.Source, s string, parents bool) ([]copier.ParentMatch, error) {
	if parents {
		return src.ResolveParents(s)
	}
	ms, err := src.Resolve(s)
	if err != nil {
		return nil, err
	}
	out := make([]copier.ParentMatch, len(ms))
	for i, m := range ms {
		out[i].Match = m
	}
	return out, nil
}

// parentDirs makes the directories COPY --parents puts between dest and
// match m (and m's own, when it is one) with their sources' modes, as
// BuildKit does.
func parentDirs(cp *copier.Copier, src *copier.Source, m copier.ParentMatch, dest string) error {
	pivot := strings.TrimSuffix(strings.TrimSuffix(m.Rel, m.Dest), "/")
	parts := strings.Split(m.Dest, "/")
	n := len(parts) - 1
	if fi, err := os.Stat(m.Host); err == nil && fi.IsDir() {
		n = len(parts)
	}
	for i := 1; i <= n; i++ {
		rel := path.Join(parts[:i]...)
		host, err := securejoin.SecureJoin(src.Root, path.Join(pivot, rel))
		if err != nil {
			return err
		}
		if err := cp.MkdirLike(path.Join(dest, rel), host); err != nil {
			return err
		}
	}
	return nil
}

// copySource returns what COPY reads: the context, a stage or an image.
func (b *builder) copySource(ctx context.Context, st *stage, c *dockerfile.Copy) (*copier.Source, error) {
	return b.fromSource(ctx, st, c.From)
}

// fromSource returns the files a --from names (COPY's, RUN --mount's): ""
// the context, else a stage (built first), scratch or an image.
func (b *builder) fromSource(ctx context.Context, st *stage, name string) (*copier.Source, error) {
	if name == "" {
		return b.contextSource(), nil
	}
	from, err := b.resolveFrom(st, name)
	if err != nil {
		return nil, err
	}
	switch from.Kind {
	case dockerfile.BaseStage:
		other, err := b.stage(ctx, from.Stage)
		if err != nil {
			return nil, err
		}
		root, err := b.roots.read(ctx, other)
		if err != nil {
			return nil, err
		}
		return &copier.Source{Root: root, Name: "stage " + other.def.DisplayName()}, nil
	case dockerfile.BaseScratch:
		empty := b.maker.Dir("scratch")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, err
		}
		return &copier.Source{Root: empty, Name: "scratch"}, nil
	}
	root, err := b.externalRoot(ctx, from.Image)
	if err != nil {
		return nil, err
	}
	return &copier.Source{Root: root, Name: "image " + from.Image}, nil
}

// resolveFrom tells what a --from names: a stage, scratch or an image.
// The error is the step's to locate.
func (b *builder) resolveFrom(st *stage, name string) (dockerfile.Base, error) {
	from, err := b.df.ResolveFrom(name, st.index)
	if err != nil {
		var de *dockerfile.Error
		if errors.As(err, &de) {
			return from, de.Err
		}
	}
	return from, err
}

// destination is COPY's destination as an absolute path, relative ones
// joined to the working directory; a trailing slash is kept, and "." means
// the working directory itself.
func destination(workdir, dest string) string {
	if workdir == "" {
		workdir = "/"
	}
	if dest == "." || dest == "" {
		dest = "./"
	}
	dir := strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.")
	p := dest
	if !path.IsAbs(p) {
		p = path.Join(workdir, p)
	}
	p = path.Clean(p)
	if dir && p != "/" {
		p += "/"
	}
	return p
}

// copyAll copies every source of one COPY or ADD to dest.
func (b *builder) copyAll(ctx context.Context, cp *copier.Copier, src *copier.Source, c *dockerfile.Copy, dest string) error {
	var matches []copier.ParentMatch
	var urls []string
	var gits []*dockerfile.GitSource
	for _, s := range c.Sources {
		if g, ok := gitSource(c, s); ok {
			gits = append(gits, g)
			continue
		}
		if c.Add && isURL(s) {
			urls = append(urls, s)
			continue
		}
		if !c.Add && isURL(s) {
			return fmt.Errorf("source can't be a URL for COPY")
		}
		m, err := resolveSource(src, s, c.Parents)
		if err != nil {
			return err
		}
		matches = append(matches, m...)
	}
	if c.Parents && !strings.HasSuffix(dest, "/") {
		dest += "/" // the sources keep their paths below it
	}
	destIsDir := strings.HasSuffix(dest, "/")
	if n := len(matches) + len(urls) + len(gits) + len(c.Inline); n > 1 && !destIsDir && !cp.IsDir(dest) {
		return fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /", keyword(c))
	}
	if c.Checksum != "" && len(urls)+len(gits) != 1 {
		return errors.New("checksum requires exactly one HTTP(S) or Git source")
	}
	var sum *checksum
	if c.Checksum != "" && len(urls) == 1 {
		var err error
		if sum, err = parseChecksum(c.Checksum); err != nil {
			return err
		}
	}
	for _, g := range gits {
		if err := b.addGit(ctx, cp, g, dest, c.Checksum); err != nil {
			return err
		}
	}
	for _, m := range matches {
		if err := ctx.Err(); err != nil {
			return err
		}
		to := dest
		if c.Parents {
			to = path.Join(dest, m.Dest)
			if err := parentDirs(cp, src, m, dest); err != nil {
				return err
			}
		}
		if err := cp.Copy(ctx, m.Match, to, c.Add && (c.Unpack == nil || *c.Unpack)); err != nil {
			return err
		}
	}
	for _, u := range urls {
		if err := b.download(ctx, cp, u, dest, sum, c.Unpack != nil && *c.Unpack); err != nil {
			return err
		}
	}
	for _, f := range c.Inline {
		if err := cp.WriteFile(dest, f.Name, strings.NewReader(f.Data), 0o644, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func keyword(c *dockerfile.Copy) string {
	if c.Add {
		return "ADD"
	}
	return "COPY"
}

// contextSource is the build context as COPY reads it.
func (b *builder) contextSource() *copier.Source {
	return &copier.Source{Root: b.bctx.dir, Ignore: b.bctx.ignore, Context: true, Name: "the build context"}
}

// copyHistory words the history entry as BuildKit does.
func copyHistory(c *dockerfile.Copy) string {
	var b strings.Builder
	b.WriteString(keyword(c))
	if c.Parents {
		b.WriteString(" --parents")
	}
	if c.Chown != "" {
		b.WriteString(" --chown=" + c.Chown)
	}
	if c.Chmod != "" {
		b.WriteString(" --chmod=" + c.Chmod)
	}
	for _, s := range c.Sources {
		b.WriteString(" " + s)
	}
	for _, f := range c.Inline {
		b.WriteString(" <<" + f.Name)
	}
	b.WriteString(" " + c.Dest)
	return b.String()
}
