package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"
)

// buildContext is the directory COPY and ADD read, with .dockerignore.
type buildContext struct {
	dir    string
	ignore *patternmatcher.PatternMatcher // nil: nothing is ignored
}

// openContext reads the ignore file: <Dockerfile>.dockerignore next to the
// Dockerfile wins over the context's .dockerignore. Every path of exclude
// inside the context is left out after it, whatever its exceptions say;
// inside reports which were.
func openContext(dir, dockerfilePath string, exclude []string) (c *buildContext, inside []string, err error) {
	var patterns []string
	for _, name := range []string{dockerfilePath + ".dockerignore", filepath.Join(dir, ".dockerignore")} {
		f, err := openInContext(dir, name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", name, err)
		}
		break
	}
	for _, p := range exclude {
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		patterns = append(patterns, filepath.ToSlash(rel))
		inside = append(inside, p)
	}
	c = &buildContext{dir: dir}
	if len(patterns) == 0 {
		return c, inside, nil
	}
	if c.ignore, err = patternmatcher.New(patterns); err != nil {
		return nil, nil, fmt.Errorf("reading the .dockerignore patterns: %w", err)
	}
	return c, inside, nil
}

// openInContext opens p for reading. When p is inside the context
// directory dir, every symlink on the way resolves inside dir, as BuildKit
// reads a context: a Dockerfile or .dockerignore that links out of a
// fetched context reads nothing of the host. A path outside dir (a
// Dockerfile the operator named elsewhere) opens as it is.
func openInContext(dir, p string) (*os.File, error) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return os.Open(p)
	}
	h, err := pathrs.OpenInRoot(dir, rel)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			err = errno
		}
		return nil, &os.PathError{Op: "open", Path: p + " (links resolved inside the context)", Err: err}
	}
	defer h.Close()
	return pathrs.Reopen(h, unix.O_RDONLY)
}

// readInContext reads a whole file as openInContext opens it.
func readInContext(dir, p string) ([]byte, error) {
	f, err := openInContext(dir, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
