package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/layers"
)

// copy executes COPY and ADD: it copies into the stage's root and makes the
// layer from exactly the paths it wrote, without walking the filesystem.
func (b *builder) copy(ctx context.Context, st *stage, c *dockerfile.Copy) error {
	if c.Parents {
		return errors.New("COPY --parents is not supported yet")
	}
	// A stage with an ADD reads its files (archives unpack over them):
	// roots.write gives it the full root, never an outline.
	fs, err := b.roots.write(ctx, st, c.Chown != "")
	if err != nil {
		return err
	}
	root := fs.dir
	src, err := b.copySource(ctx, st, c)
	if err != nil {
		return err
	}
	cp := newCopier(root, src, nil, nil)
	cp.outline = fs.outline
	if c.Chown != "" {
		uid, gid, err := resolveChown(root, c.Chown)
		if err != nil {
			return err
		}
		cp.owner = &layers.Owner{UID: uid, GID: gid}
	}
	if c.Chmod != "" {
		m, err := strconv.ParseUint(c.Chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", c.Chmod)
		}
		mode := uint32(m)
		cp.mode = &mode
	}
	if len(c.Excludes) > 0 {
		if cp.excludes, err = patternmatcher.New(c.Excludes); err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
	}
	dest := destination(st.config.Config.WorkingDir, c.Dest)
	if err := b.copyAll(ctx, cp, c, dest); err != nil {
		return err
	}
	st.fs.changed() // the recorded state no longer matches the root
	layer, err := b.layer(ctx, root, cp.entries())
	if err != nil {
		return err
	}
	return st.commit(copyHistory(c), layer)
}

// copySource returns what COPY reads: the context, a stage or an image.
func (b *builder) copySource(ctx context.Context, st *stage, c *dockerfile.Copy) (*source, error) {
	if c.From == "" {
		return &source{root: b.bctx.dir, ignore: b.bctx.ignore, context: true, name: "the build context"}, nil
	}
	from, err := b.df.ResolveFrom(c.From, st.index)
	if err != nil {
		var de *dockerfile.Error
		if errors.As(err, &de) {
			return nil, de.Err
		}
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
		return &source{root: root, name: "stage " + other.def.DisplayName()}, nil
	case dockerfile.BaseScratch:
		empty := filepath.Join(b.work, "roots", "scratch")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, err
		}
		return &source{root: empty, name: "scratch"}, nil
	}
	root, err := b.externalRoot(ctx, from.Image)
	if err != nil {
		return nil, err
	}
	return &source{root: root, name: "image " + from.Image}, nil
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
func (b *builder) copyAll(ctx context.Context, cp *copier, c *dockerfile.Copy, dest string) error {
	var matches []match
	var urls []string
	for _, s := range c.Sources {
		if c.Add && isURL(s) {
			urls = append(urls, s)
			continue
		}
		if !c.Add && isURL(s) {
			return fmt.Errorf("source can't be a URL for COPY")
		}
		m, err := cp.src.resolve(s)
		if err != nil {
			return err
		}
		matches = append(matches, m...)
	}
	destIsDir := strings.HasSuffix(dest, "/")
	if n := len(matches) + len(urls) + len(c.Inline); n > 1 && !destIsDir && !cp.isDir(dest) {
		return fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /", keyword(c))
	}
	if c.Checksum != "" && len(urls) != 1 {
		return errors.New("checksum requires exactly one HTTP(S) source")
	}
	for _, m := range matches {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.copyMatch(ctx, cp, c, m, dest); err != nil {
			return err
		}
	}
	for _, u := range urls {
		if err := b.download(ctx, cp, u, dest, c.Checksum); err != nil {
			return err
		}
	}
	for _, f := range c.Inline {
		target, err := cp.fileTarget(dest, f.Name)
		if err != nil {
			return err
		}
		if err := cp.writeFile(target, strings.NewReader(f.Data), 0o644, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) copyMatch(ctx context.Context, cp *copier, c *dockerfile.Copy, m match, dest string) error {
	fi, err := os.Stat(m.host)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		target, err := cp.mkdirAll(dest)
		if err != nil {
			return err
		}
		return cp.copyDir(m.host, target, m.rel, "", true, nil)
	}
	if c.Add && (c.Unpack == nil || *c.Unpack) {
		ok, err := b.unpackArchive(ctx, cp, m.host, dest)
		if ok || err != nil {
			return err
		}
	}
	target, err := cp.fileTarget(dest, path.Base("/"+m.rel))
	if err != nil {
		return err
	}
	return cp.copyFile(m.host, target, fi)
}

// fileTarget is where a file named name goes: into dest when dest ends
// with "/" or is an existing directory, else at dest itself.
func (cp *copier) fileTarget(dest, name string) (string, error) {
	if strings.HasSuffix(dest, "/") || cp.isDir(dest) {
		dir, err := cp.mkdirAll(dest)
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, name), nil
	}
	dir, err := cp.mkdirAll(path.Dir(dest))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(dest)), nil
}

// isDir reports whether p is a directory in the root, symlinks followed.
func (cp *copier) isDir(p string) bool {
	h, err := securejoin.SecureJoin(cp.root, p)
	if err != nil {
		return false
	}
	fi, err := os.Stat(h)
	return err == nil && fi.IsDir()
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

// copyHistory words the history entry as BuildKit does.
func copyHistory(c *dockerfile.Copy) string {
	var b strings.Builder
	b.WriteString(keyword(c))
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
