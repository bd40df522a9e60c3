// Package buildcontext fetches a build context named the way kaniko's
// --context names it: a directory (plain or dir://), a tar archive
// (tar://FILE, gzip or not, or tar://stdin), a remote archive (https://)
// or a git repository (git://HOST/PATH#REF, cloned over https).
package buildcontext

import (
	"context"
	"fmt"
	securejoin "github.com/cyphar/filepath-securejoin"
	"io"
	"os"
	"strings"
)

// Options tune Fetch.
type Options struct {
	// Dir is where a fetched context is unpacked; it must be empty or
	// missing. Directories are used where they are.
	Dir string
	// SubPath is a directory inside the context to use as the context.
	SubPath string
	// Stdin is read for tar://stdin.
	Stdin io.Reader
	// GitBranch is the branch to clone when a git URL names no ref.
	GitBranch string
	// CABundle, when set, is trusted for https (PEM), besides the system's.
	CABundle []byte
	// InsecureSkipTLS accepts any certificate for https.
	InsecureSkipTLS bool
}

// Fetch makes the context spec available as a local directory and returns
// its path.
func Fetch(ctx context.Context, spec string, opts Options) (string, error) {
	dir, err := fetch(ctx, spec, opts)
	if err != nil {
		return "", fmt.Errorf("context %s: %w", spec, err)
	}
	if opts.SubPath == "" {
		return dir, nil
	}
	// Symlinks on the way resolve inside the context: a fetched archive
	// or repository cannot point the build at the host's directories.
	sub, err := securejoin.SecureJoin(dir, opts.SubPath)
	if err != nil {
		return "", fmt.Errorf("context sub-path %s: %w", opts.SubPath, err)
	}
	fi, err := os.Stat(sub)
	if err != nil {
		return "", fmt.Errorf("context sub-path %s: %w", opts.SubPath, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("context sub-path %s is not a directory", opts.SubPath)
	}
	return sub, nil
}

func fetch(ctx context.Context, spec string, opts Options) (string, error) {
	scheme, rest, found := strings.Cut(spec, "://")
	if !found {
		return spec, nil
	}
	switch scheme {
	case "dir":
		return rest, nil
	case "tar":
		if rest == "stdin" || rest == "-" {
			if opts.Stdin == nil {
				return "", fmt.Errorf("no standard input to read")
			}
			return opts.Dir, untar(ctx, opts.Stdin, opts.Dir)
		}
		f, err := os.Open(rest)
		if err != nil {
			return "", err
		}
		defer f.Close()
		return opts.Dir, untar(ctx, f, opts.Dir)
	case "https", "http":
		return opts.Dir, download(ctx, spec, opts)
	case "git":
		return opts.Dir, clone(ctx, rest, opts)
	}
	return "", fmt.Errorf("contexts from %s:// are not supported: use a directory, tar://, https:// or git://", scheme)
}
