package isolation

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/buildcrew/builder/pkg/isolation/internal/stephelper"
)

// mountBinds turns the step's mounts into the helper's binds, parents
// first, each target resolved inside the root (symlinks followed there, as
// BuildKit does) and its mount point made as a stub when the root lacks
// it. A target inside another mount's is made by the helper, in that
// mount.
func mountBinds(root string, mounts []Mount, st *stubs) ([]stephelper.Bind, error) {
	sorted := byDepth(mounts)
	var binds []stephelper.Bind
	var done []string // targets mounted so far, resolved
	for _, m := range sorted {
		dir := true
		if m.Source != "" {
			fi, err := os.Stat(m.Source)
			if err != nil {
				return nil, fmt.Errorf("mounting at %s: %w", m.Target, err)
			}
			dir = fi.IsDir()
		}
		target := m.Target
		if !insideAny(target, done) {
			host, err := securejoin.SecureJoin(root, target)
			if err != nil {
				return nil, fmt.Errorf("mounting at %s: %w", m.Target, err)
			}
			rel, err := filepath.Rel(root, host)
			if err != nil {
				return nil, err
			}
			target = path.Clean("/" + filepath.ToSlash(rel))
			if target == "/" {
				return nil, fmt.Errorf("cannot mount over the root filesystem (%s)", m.Target)
			}
			ok, err := st.ensure(target, dir)
			if err != nil {
				return nil, err
			}
			if !ok {
				what := "a directory"
				if !dir {
					what = "a file"
				}
				return nil, fmt.Errorf("cannot mount %s at %s: something else is in the way", what, m.Target)
			}
		}
		done = append(done, target)
		b := stephelper.Bind{Source: m.Source, Target: target, ReadOnly: m.ReadOnly, Tmpfs: m.Source == ""}
		if m.Size > 0 {
			b.Size = uint64(m.Size)
		}
		binds = append(binds, b)
	}
	return binds, nil
}

// byDepth returns the mounts with clean absolute targets, parents first.
func byDepth(mounts []Mount) []Mount {
	sorted := append([]Mount(nil), mounts...)
	for i := range sorted {
		sorted[i].Target = path.Clean("/" + sorted[i].Target)
	}
	sort.SliceStable(sorted, func(i, j int) bool { return depth(sorted[i].Target) < depth(sorted[j].Target) })
	return sorted
}

// depth counts a clean absolute path's components.
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// insideAny tells whether p lies inside (or is) one of dirs.
func insideAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}
