package build

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/cache"
)

// TestCopyParents keeps each source's path below its pivot, with "**"
// across directories, as BuildKit's reference describes it; .dockerignore
// still applies.
func TestCopyParents(t *testing.T) {
	files := map[string]string{
		"x/a.txt": "xa", "y/a.txt": "ya", "x/y/a.txt": "xya", "x/y/b.txt": "xyb",
		"src/a.txt": "1", "src/x/b.txt": "2", "src/x/y/c.txt": "3", "src/x/y/d.md": "4", "src/x/y/hidden.txt": "h",
		".dockerignore": "src/x/y/hidden.txt\n",
	}
	df := `FROM scratch
COPY --parents ./x/a.txt ./y/a.txt /parents/
COPY --parents ./x/./y/*.txt /pivot/
COPY --parents ./src/**/*.txt /deep/
COPY --parents src/x /dir
`
	dir := t.TempDir()
	files["Dockerfile"] = df
	if err := testenv.WriteFiles(dir, 0o644, files); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "src/x"), 0o700)
	os.Chmod(filepath.Join(dir, "x/y"), 0o750)
	fs := flatten(t, mustBuildIn(t, df, map[string]string{}, func(o *Options) { o.ContextDir = dir }).Image)
	// The directories between the destination and a match take their
	// sources' modes (BuildKit v0.34.2's result on the same context).
	for p, mode := range map[string]int64{"deep/src": 0o755, "deep/src/x": 0o700, "deep/src/x/y": 0o755, "dir/src/x": 0o700, "pivot/y": 0o750, "parents/x": 0o755} {
		if e, ok := fs[p]; !ok || e.Mode&0o7777 != mode {
			t.Errorf("%s: mode %o (present %v), want %o", p, e.Mode&0o7777, ok, mode)
		}
	}
	var got []string
	for p, e := range fs {
		if e.Type != '5' { // files only
			got = append(got, p+"="+e.Body)
		}
	}
	sort.Strings(got)
	want := []string{
		"deep/src/a.txt=1", "deep/src/x/b.txt=2", "deep/src/x/y/c.txt=3",
		"dir/src/x/b.txt=2", "dir/src/x/y/c.txt=3", "dir/src/x/y/d.md=4",
		"parents/x/a.txt=xa", "parents/y/a.txt=ya",
		"pivot/y/a.txt=xya", "pivot/y/b.txt=xyb",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if _, err := buildIn(t, "FROM scratch\nCOPY --parents ./nope/a.txt /p/\n", map[string]string{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a missing source without wildcards: err = %v", err)
	}
}

// TestCopyParentsKey: a file deep under a "**" pattern is an input of
// the step's cache key.
func TestCopyParentsKey(t *testing.T) {
	dir := t.TempDir()
	store := &cache.Layout{Dir: t.TempDir()}
	write(t, dir, "Dockerfile", "FROM scratch\nCOPY --parents ./src/**/*.txt /deep/\n")
	write(t, dir, "src/x/y/c.txt", "1")
	first := &cachedBuild{t: t, dir: dir, cache: store}
	first.build()
	write(t, dir, "src/x/y/c.txt", "2")
	second := &cachedBuild{t: t, dir: dir, cache: store}
	second.build()
	if len(cachedSteps(second.output)) != 0 || first.digest == second.digest {
		t.Errorf("a changed file deep under ** was a cache hit: %v", cachedSteps(second.output))
	}
}
