package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// buildContext is the directory COPY and ADD read, with .dockerignore.
type buildContext struct {
	dir    string
	ignore *patternmatcher.PatternMatcher // nil: nothing is ignored
}

// openContext reads the ignore file: <Dockerfile>.dockerignore next to the
// Dockerfile wins over the context's .dockerignore.
func openContext(dir, dockerfilePath string) (*buildContext, error) {
	c := &buildContext{dir: dir}
	for _, name := range []string{dockerfilePath + ".dockerignore", filepath.Join(dir, ".dockerignore")} {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if len(patterns) == 0 {
			return c, nil
		}
		if c.ignore, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		return c, nil
	}
	return c, nil
}
