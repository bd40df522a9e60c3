package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/buildcrew/builder/pkg/buildcontext"
	"github.com/buildcrew/builder/pkg/copier"
	"github.com/buildcrew/builder/pkg/dockerfile"
)

// gitSource tells an ADD source that names a git repository, with the
// step's --keep-git-dir.
func gitSource(c *dockerfile.Copy, s string) (*dockerfile.GitSource, bool) {
	if !c.Add {
		return nil, false
	}
	g, ok := dockerfile.ParseGitSource(s)
	if ok && c.KeepGitDir {
		g.KeepGitDir = true
	}
	return g, ok
}

// repo is what buildcontext clones for g.
func repo(g *dockerfile.GitSource) buildcontext.Repo {
	return buildcontext.Repo{URL: g.Remote, Ref: g.Ref, KeepGitDir: g.KeepGitDir}
}

// addGit executes ADD of a git repository, as BuildKit does: the ref's
// tree (its subdirectory, when the URL names one) is copied into dest,
// owned by root unless --chown, without .git unless --keep-git-dir;
// --checksum is the commit it must be.
func (b *builder) addGit(ctx context.Context, cp *copier.Copier, g *dockerfile.GitSource, dest, checksum string) error {
	tmp, err := os.MkdirTemp(filepath.Join(b.work, "tmp"), "git-")
	if err != nil {
		return err
	}
	defer b.maker.Discard(tmp)
	dir := filepath.Join(tmp, "repo")
	commit, err := buildcontext.CloneRepo(ctx, repo(g), dir, buildcontext.Options{})
	if err != nil {
		return err
	}
	if checksum != "" && !strings.HasPrefix(commit, checksum) {
		return fmt.Errorf("expected checksum to match %s, got %s", checksum, commit)
	}
	src := &copier.Source{Root: dir, Context: true, Name: "git repository " + g.Remote}
	sub := g.SubDir
	if sub == "" {
		sub = "/"
	}
	matches, err := src.Resolve(sub)
	if err != nil {
		return err
	}
	return cp.From(src).Copy(ctx, matches[0], dest, false)
}

// gitKey is what an ADD of a git repository reads, for its cache key:
// the commit its ref names now (asked of the remote, without cloning),
// or the --checksum commit.
func gitKey(ctx context.Context, g *dockerfile.GitSource, checksum string) (string, bool) {
	commit := checksum
	if commit == "" {
		var err error
		if commit, err = buildcontext.ResolveRepo(ctx, repo(g), buildcontext.Options{}); err != nil {
			return "", false // the step reports it, if it fails there too
		}
	}
	return fmt.Sprintf("git %s %s %s keep=%v", g.Remote, g.SubDir, commit, g.KeepGitDir), true
}
