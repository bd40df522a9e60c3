package copier

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"
)

// ParentMatch is what COPY --parents copies, and where it goes below the
// destination.
type ParentMatch struct {
	Match
	Dest string // relative to the destination
}

// ResolveParents finds what a COPY --parents source names, as BuildKit
// does: the paths below its pivot (what precedes "/./", else the source
// root) that the rest matches, where "**" is any number of directories.
// Each match keeps its path below the pivot; a directory that matches is
// copied whole. A source without wildcards must exist; a pattern may
// match nothing.
func (s *Source) ResolveParents(src string) ([]ParentMatch, error) {
	pivot, pattern, ok := strings.Cut(src, "/./")
	if !ok {
		pivot, pattern = "", src
	}
	pivot = strings.TrimPrefix(path.Clean("/"+pivot), "/")
	pattern = strings.TrimPrefix(path.Clean("/"+pattern), "/")
	if !hasWildcard(pattern) {
		ms, err := s.Resolve(path.Join(pivot, pattern))
		if err != nil {
			return nil, err
		}
		return []ParentMatch{{Match: ms[0], Dest: pattern}}, nil
	}
	pm, err := patternmatcher.New([]string{pattern})
	if err != nil {
		return nil, fmt.Errorf("bad pattern %q: %w", pattern, err)
	}
	host, err := securejoin.SecureJoin(s.Root, pivot)
	if err != nil {
		return nil, err
	}
	var out []ParentMatch
	err = s.walkParents(pm, host, pivot, "", &out)
	return out, err
}

// MkdirLike makes the directory dest in the root, unless it is there,
// with the mode of the source directory srcHost (as --chmod changes it)
// and the copy's owner: COPY --parents's directories between the
// destination and a match, as BuildKit makes them.
func (cp *Copier) MkdirLike(dest, srcHost string) error {
	if cp.IsDir(dest) {
		return nil
	}
	fi, err := os.Stat(srcHost)
	if err != nil {
		return err
	}
	host, err := cp.MkdirAll(dest)
	if err != nil {
		return err
	}
	return unix.Chmod(host, cp.modeOf(fi))
}

// walkParents adds the entries of dirHost (rel below the pivot) that pm
// matches, and looks into the directories it does not.
func (s *Source) walkParents(pm *patternmatcher.PatternMatcher, dirHost, pivot, rel string, out *[]ParentMatch) error {
	names, err := entriesOf(dirHost)
	if err != nil {
		return err
	}
	for _, name := range names {
		r := path.Join(rel, name)
		full := path.Join(pivot, r)
		h := filepath.Join(dirHost, name)
		if s.Ignored(full) && !s.MayReinclude(h) {
			continue
		}
		matched, err := pm.MatchesOrParentMatches(r)
		if err != nil {
			return err
		}
		if matched {
			// An ignored directory here may hold exceptions: the copy
			// takes those only.
			host, err := securejoin.SecureJoin(s.Root, full)
			if err != nil {
				return err
			}
			m := s.match(full, host)
			if s.Ignored(m.Real) && !s.MayReinclude(host) {
				continue
			}
			*out = append(*out, ParentMatch{Match: m, Dest: r})
			continue
		}
		if fi, err := os.Lstat(h); err == nil && fi.IsDir() {
			if err := s.walkParents(pm, h, pivot, r, out); err != nil {
				return err
			}
		}
	}
	return nil
}
