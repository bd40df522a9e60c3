package copier

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"

	"github.com/buildcrew/builder/internal/dirlist"
)

// Source is what COPY reads from: the build context, a stage's root or an
// image's root. Paths are resolved as if Root were "/".
type Source struct {
	Root    string
	Ignore  *patternmatcher.PatternMatcher // .dockerignore; the context only
	Context bool                           // the context: its files belong to root:root
	Name    string                         // for messages: "the build context", "stage build"
}

// Match is one source path COPY names or a wildcard finds.
type Match struct {
	Rel  string // relative to the source root; "" is the root itself
	Host string // the host path, symlinks followed inside the root
	// Real is Host relative to the source root: the path .dockerignore
	// judges, so that a symlink in the context never reaches what it
	// leaves out (the context BuildKit sends has none of it).
	Real string
}

// realRel is host, inside the source root, relative to it.
func (s *Source) realRel(host string) string {
	rel, err := filepath.Rel(s.Root, host)
	if err != nil || rel == "." {
		return ""
	}
	return filepath.ToSlash(rel)
}

// match is the Match for rel, found at host.
func (s *Source) match(rel, host string) Match {
	return Match{Rel: rel, Host: host, Real: s.realRel(host)}
}

// MayReinclude tells whether host, an ignored path, is a directory that
// .dockerignore's exceptions could bring some of back.
func (s *Source) MayReinclude(host string) bool {
	if s.Ignore == nil || !s.Ignore.Exclusions() {
		return false
	}
	fi, err := os.Lstat(host)
	return err == nil && fi.IsDir()
}

// Ignored reports whether .dockerignore leaves rel out of the context.
func (s *Source) Ignored(rel string) bool {
	if s.Ignore == nil || rel == "" {
		return false
	}
	m, err := s.Ignore.MatchesOrParentMatches(rel)
	return err == nil && m
}

// Resolve finds what a COPY source names. A path must exist (and not be
// ignored); a wildcard may match nothing.
func (s *Source) Resolve(src string) ([]Match, error) {
	rel := strings.TrimPrefix(path.Clean("/"+src), "/")
	fixed, pattern := splitWildcards(rel)
	if pattern == "" {
		host, err := securejoin.SecureJoin(s.Root, rel)
		if err != nil {
			return nil, err
		}
		m := s.match(rel, host)
		if _, err := os.Stat(host); err != nil || s.Ignored(rel) || s.Ignored(m.Real) {
			return nil, fmt.Errorf("%q not found in %s", src, s.describe())
		}
		return []Match{m}, nil
	}
	base, err := securejoin.SecureJoin(s.Root, fixed)
	if err != nil {
		return nil, err
	}
	var out []Match
	if err := s.glob(base, fixed, strings.Split(pattern, "/"), &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Source) describe() string {
	if s.Context {
		return "the build context (or it is excluded by .dockerignore)"
	}
	return s.Name
}

// glob matches the pattern components one directory level at a time.
func (s *Source) glob(dirHost, dirRel string, parts []string, out *[]Match) error {
	names, err := entriesOf(dirHost)
	if err != nil {
		return err
	}
	for _, name := range names {
		ok, err := filepath.Match(parts[0], name)
		if err != nil {
			return fmt.Errorf("bad pattern %q: %w", parts[0], err)
		}
		rel := path.Join(dirRel, name)
		if !ok || s.Ignored(rel) {
			continue
		}
		if len(parts) > 1 {
			host := filepath.Join(dirHost, name)
			if fi, err := os.Lstat(host); err == nil && fi.IsDir() {
				if err := s.glob(host, rel, parts[1:], out); err != nil {
					return err
				}
			}
			continue
		}
		host, err := securejoin.SecureJoin(s.Root, rel)
		if err != nil {
			return err
		}
		m := s.match(rel, host)
		if s.Ignored(m.Real) {
			continue
		}
		*out = append(*out, m)
	}
	return nil
}

// entriesOf lists a directory a pattern walks into; none when it is not
// there or not a directory.
func entriesOf(dirHost string) ([]string, error) {
	names, err := dirlist.Names(dirHost)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	return names, err
}

// splitWildcards splits p before its first component with a wildcard.
func splitWildcards(p string) (fixed, pattern string) {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if hasWildcard(part) {
			return strings.Join(parts[:i], "/"), strings.Join(parts[i:], "/")
		}
	}
	return p, ""
}

func hasWildcard(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}
