package buildcontext

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

var commitID = regexp.MustCompile(`^[0-9a-f]{40}$`)

// clone fetches "HOST/PATH[#REF[#COMMIT]]" over https, as kaniko does: REF
// is a branch name, a full reference (refs/heads/x, refs/tags/v1,
// refs/pull/1/head) or a commit id; COMMIT is checked out after fetching REF.
// GIT_USERNAME and GIT_PASSWORD, or GIT_TOKEN, authenticate.
func clone(ctx context.Context, spec string, opts Options) error {
	parts := strings.Split(spec, "#")
	if len(parts) > 3 || parts[0] == "" {
		return fmt.Errorf("want git://HOST/PATH[#REF[#COMMIT]]")
	}
	co := &git.CloneOptions{URL: "https://" + parts[0], CABundle: opts.CABundle, InsecureSkipTLS: opts.InsecureSkipTLS, Tags: git.NoTags, Auth: authFromEnv()}
	ref := opts.GitBranch
	if len(parts) > 1 && parts[1] != "" {
		ref = parts[1]
	}
	var commit string
	switch {
	case commitID.MatchString(ref):
		commit = ref
	case strings.HasPrefix(ref, "refs/"):
		co.ReferenceName, co.SingleBranch, co.Depth = plumbing.ReferenceName(ref), true, 1
	case ref != "":
		co.ReferenceName, co.SingleBranch, co.Depth = plumbing.NewBranchReferenceName(ref), true, 1
	default:
		co.SingleBranch, co.Depth = true, 1
	}
	if len(parts) == 3 && parts[2] != "" {
		commit = parts[2]
		co.Depth = 0 // the commit may lie anywhere in REF's history
	}
	repo, err := git.PlainCloneContext(ctx, opts.Dir, false, co)
	if err != nil {
		return fmt.Errorf("cloning %s: %w", co.URL, err)
	}
	if commit != "" {
		wt, err := repo.Worktree()
		if err != nil {
			return err
		}
		if err := wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(commit)}); err != nil {
			return fmt.Errorf("checking out %s: %w", commit, err)
		}
	}
	// Like BuildKit's git contexts, the context holds the files, not .git.
	return os.RemoveAll(filepath.Join(opts.Dir, ".git"))
}

// Repo is a git repository ADD reads: its URL (https, http, git or ssh,
// as BuildKit accepts them) and a branch, tag or commit ("" for the
// default branch).
type Repo struct {
	URL, Ref string
	// KeepGitDir keeps .git in the checkout.
	KeepGitDir bool
}

// CloneRepo checks out r into dir (empty or missing) and returns the
// commit it checked out. Credentials come from the environment, as for
// git contexts.
func CloneRepo(ctx context.Context, r Repo, dir string, opts Options) (string, error) {
	co := &git.CloneOptions{URL: r.URL, CABundle: opts.CABundle, InsecureSkipTLS: opts.InsecureSkipTLS, Tags: git.NoTags, Auth: authFromEnv()}
	commit := ""
	switch {
	case commitID.MatchString(r.Ref):
		commit = r.Ref
	case strings.HasPrefix(r.Ref, "refs/"):
		co.ReferenceName, co.SingleBranch, co.Depth = plumbing.ReferenceName(r.Ref), true, 1
	case r.Ref != "":
		// A branch or a tag: which, the remote says.
		name, err := remoteRef(ctx, r, co)
		if err != nil {
			return "", err
		}
		co.ReferenceName, co.SingleBranch, co.Depth = name, true, 1
	default:
		co.SingleBranch, co.Depth = true, 1
	}
	repo, err := git.PlainCloneContext(ctx, dir, false, co)
	if err != nil {
		return "", fmt.Errorf("cloning %s: %w", r.URL, err)
	}
	if commit != "" {
		wt, err := repo.Worktree()
		if err != nil {
			return "", err
		}
		if err := wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(commit)}); err != nil {
			return "", fmt.Errorf("checking out %s: %w", commit, err)
		}
	}
	head, err := repo.Head()
	if err != nil {
		return "", err
	}
	if !r.KeepGitDir {
		if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
			return "", err
		}
	}
	return head.Hash().String(), nil
}

// ResolveRepo returns the commit r names now, without cloning: for a
// cache key.
func ResolveRepo(ctx context.Context, r Repo, opts Options) (string, error) {
	if commitID.MatchString(r.Ref) {
		return r.Ref, nil
	}
	co := &git.CloneOptions{URL: r.URL, CABundle: opts.CABundle, InsecureSkipTLS: opts.InsecureSkipTLS, Auth: authFromEnv()}
	refs, err := listRemote(ctx, co)
	if err != nil {
		return "", err
	}
	want := []plumbing.ReferenceName{plumbing.HEAD}
	if r.Ref != "" {
		want = []plumbing.ReferenceName{plumbing.ReferenceName(r.Ref), plumbing.NewBranchReferenceName(r.Ref), plumbing.NewTagReferenceName(r.Ref)}
	}
	for _, w := range want {
		for _, ref := range refs {
			if ref.Name() != w {
				continue
			}
			if ref.Type() == plumbing.SymbolicReference {
				w = ref.Target()
				for _, t := range refs {
					if t.Name() == w {
						return t.Hash().String(), nil
					}
				}
				continue
			}
			return ref.Hash().String(), nil
		}
	}
	return "", fmt.Errorf("%s has no ref %q", r.URL, r.Ref)
}

// remoteRef finds whether ref is a branch or a tag of the remote.
func remoteRef(ctx context.Context, r Repo, co *git.CloneOptions) (plumbing.ReferenceName, error) {
	refs, err := listRemote(ctx, co)
	if err != nil {
		return "", err
	}
	for _, name := range []plumbing.ReferenceName{plumbing.NewBranchReferenceName(r.Ref), plumbing.NewTagReferenceName(r.Ref)} {
		for _, ref := range refs {
			if ref.Name() == name {
				return name, nil
			}
		}
	}
	return "", fmt.Errorf("%s has no branch or tag %q", r.URL, r.Ref)
}

func listRemote(ctx context.Context, co *git.CloneOptions) ([]*plumbing.Reference, error) {
	remote := git.NewRemote(nil, &config.RemoteConfig{Name: "origin", URLs: []string{co.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: co.Auth, CABundle: co.CABundle, InsecureSkipTLS: co.InsecureSkipTLS})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", co.URL, err)
	}
	return refs, nil
}

// authFromEnv is GIT_USERNAME and GIT_PASSWORD, or GIT_TOKEN, for https.
func authFromEnv() transport.AuthMethod {
	if user, pass := os.Getenv("GIT_USERNAME"), os.Getenv("GIT_PASSWORD"); user != "" || pass != "" {
		return &githttp.BasicAuth{Username: user, Password: pass}
	}
	if token := os.Getenv("GIT_TOKEN"); token != "" {
		return &githttp.BasicAuth{Username: "git", Password: token}
	}
	return nil
}
