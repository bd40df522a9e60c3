package layers

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// EnsureDir makes sure rel, whose parent exists, is a directory inside root:
// it resolves rel's symlinks as if root were "/" and creates the directory
// (mode 0755) when missing. It returns the host path and whether it made it.
// Where the outline o left out a file, it fails as it would on the file.
func EnsureDir(root, rel string, o *Outline) (string, bool, error) {
	host, err := securejoin.SecureJoin(root, rel)
	if err != nil {
		return "", false, err
	}
	fi, err := os.Lstat(host)
	switch {
	case err == nil && !fi.IsDir():
		return "", false, fmt.Errorf("/%s is not a directory", rel)
	case errors.Is(err, os.ErrNotExist):
		if o != nil && o.Has(hostRel(root, host)) {
			return "", false, fmt.Errorf("/%s is not a directory", rel)
		}
		if err := os.Mkdir(host, 0o755); err != nil {
			return "", false, err
		}
		return host, true, nil
	case err != nil:
		return "", false, err
	}
	return host, false, nil
}

// MkdirAll makes the directory rel and its missing parents inside root,
// calling made with the host path of each directory it creates, parents
// first. It returns the directory's host path. o, when not nil, is what
// the root's outline left out (see EnsureDir).
func MkdirAll(root, rel string, o *Outline, made func(host string) error) (string, error) {
	return mkdirAll(root, rel, o, made, 0)
}

// maxLinkHops bounds how many symlinks to missing directories one
// MkdirAll follows, as the kernel bounds a lookup's (MAXSYMLINKS).
const maxLinkHops = 40

func mkdirAll(root, rel string, o *Outline, made func(host string) error, hops int) (string, error) {
	rel = cleanRel(rel)
	host, prefix := root, ""
	if rel == "" {
		return host, nil
	}
	for _, part := range strings.Split(rel, "/") {
		prefix = path.Join(prefix, part)
		h, created, err := EnsureDir(root, prefix, o)
		if errors.Is(err, os.ErrNotExist) && hops < maxLinkHops {
			// prefix is a symlink to a directory whose parents are
			// missing too (/app -> /opt/app, no /opt): they are made
			// where the link leads, inside root, as BuildKit does.
			target, jerr := securejoin.SecureJoin(root, prefix)
			if jerr != nil {
				return "", jerr
			}
			if parent := path.Dir(hostRel(root, target)); parent != "." {
				if _, err := mkdirAll(root, parent, o, made, hops+1); err != nil {
					return "", err
				}
				h, created, err = EnsureDir(root, prefix, o)
			}
		}
		if err != nil {
			return "", err
		}
		if created && made != nil {
			if err := made(h); err != nil {
				return "", err
			}
		}
		host = h
	}
	return host, nil
}

// hostRel is a host path inside root as a path relative to it, "" for
// the root itself.
func hostRel(root, host string) string {
	rel, err := filepath.Rel(root, host)
	if err != nil || rel == "." {
		return ""
	}
	return filepath.ToSlash(rel)
}
