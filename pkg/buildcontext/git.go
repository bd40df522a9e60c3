package buildcontext

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
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
	co := &git.CloneOptions{URL: "https://" + parts[0], CABundle: opts.CABundle, InsecureSkipTLS: opts.InsecureSkipTLS, Tags: git.NoTags}
	if user, pass := os.Getenv("GIT_USERNAME"), os.Getenv("GIT_PASSWORD"); user != "" || pass != "" {
		co.Auth = &githttp.BasicAuth{Username: user, Password: pass}
	} else if token := os.Getenv("GIT_TOKEN"); token != "" {
		co.Auth = &githttp.BasicAuth{Username: "git", Password: token}
	}
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
