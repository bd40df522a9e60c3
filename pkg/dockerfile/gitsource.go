package dockerfile

import "github.com/moby/buildkit/frontend/dockerfile/dfgitutil"

// GitSource is an ADD source that names a git repository, as BuildKit
// recognizes one: https://host/repo.git#ref:subdir, git@host:repo.git,
// git://host/repo and ssh://.
type GitSource struct {
	Remote     string // the repository's URL
	Ref        string // a branch, a tag or a commit; "" for the default branch
	SubDir     string // the directory of the repository to copy; "" for all
	KeepGitDir bool   // ?keep-git-dir=true in the URL
}

// ParseGitSource tells whether s names a git repository, and which.
func ParseGitSource(s string) (*GitSource, bool) {
	ref, ok, err := dfgitutil.ParseGitRef(s)
	if !ok || err != nil || ref.IndistinguishableFromLocal {
		return nil, false
	}
	g := &GitSource{Remote: ref.Remote, Ref: ref.Ref, SubDir: ref.SubDir}
	if ref.KeepGitDir != nil {
		g.KeepGitDir = *ref.KeepGitDir
	}
	return g, true
}
