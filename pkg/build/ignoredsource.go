package build

import (
	"path"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// ignoredSources is BuildKit's CopyIgnoredFile check of a COPY or ADD
// from the build context: a source that .dockerignore leaves out. As in
// BuildKit, it says nothing where .dockerignore has exceptions ("!x",
// too hard to tell statically) and warns of "." only when a pattern
// leaves out everything.
func (b *builder) ignoredSources(step *dockerfile.Step, c *dockerfile.Copy) []dockerfile.Warning {
	ig := b.bctx.ignore
	if c.From != "" || ig == nil || ig.Exclusions() {
		return nil
	}
	var ws []dockerfile.Warning
	for _, s := range c.Sources {
		if _, git := gitSource(c, s); git || isURL(s) {
			continue
		}
		src := path.Clean(s)
		if src == "." || src == "/" {
			everything := false
			for _, p := range ig.Patterns() {
				switch p.String() {
				case "*", "**", "**/*":
					everything = true
				}
			}
			if !everything {
				continue
			}
		}
		if ok, err := ig.MatchesOrParentMatches(src); err == nil && ok {
			ws = append(ws, b.lint.IgnoredSource(step, c.Add, src)...)
		}
	}
	return ws
}
