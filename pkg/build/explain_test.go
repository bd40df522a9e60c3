package build

import (
	"bytes"
	"strings"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/cache"
)

// TestExplainMiss: at debug level a missed step says which of its inputs
// changed since the cache last stored a step at the same point, and the
// steps after it say that one before them missed.
func TestExplainMiss(t *testing.T) {
	base := busybox(t)
	dir := t.TempDir()
	store := &cache.Layout{Dir: t.TempDir()}
	build := func(files map[string]string, args map[string]string) string {
		t.Helper()
		if err := testenv.WriteFiles(dir, 0o644, files); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		if _, err := buildIn(t, "", map[string]string{}, amd, debugTo(&log), func(o *Options) {
			o.ContextDir, o.Cache, o.BuildArgs = dir, store, args
		}); err != nil {
			t.Fatal(err)
		}
		var misses []string
		for _, l := range strings.Split(log.String(), "\n") {
			if strings.Contains(l, "cache miss") {
				misses = append(misses, l)
			}
		}
		return strings.Join(misses, "\n")
	}
	df := "FROM " + base + "\nCOPY app.txt /app.txt\nARG V\nRUN echo $V > /v\nRUN echo done > /done\n"
	build(map[string]string{"Dockerfile": df, "app.txt": "one"}, map[string]string{"V": "1"})
	// Nothing stored yet then; now the file changes.
	got := build(map[string]string{"app.txt": "two"}, map[string]string{"V": "1"})
	if !strings.Contains(got, `step="[2/4] COPY app.txt /app.txt" changed="the files it reads"`) {
		t.Errorf("a changed COPY source is not named:\n%s", got)
	}
	if !strings.Contains(got, `step="[3/4] RUN echo $V > /v" why="the cache holds no step after the same steps before it`) {
		t.Errorf("the step after a miss does not say one before it missed:\n%s", got)
	}
	got = build(map[string]string{}, map[string]string{"V": "2"})
	if !strings.Contains(got, `RUN echo $V > /v" changed="the ARG and ENV values" cached="RUN |1 V=1 /bin/sh -c echo $V > /v"`) {
		t.Errorf("a changed build arg is not named:\n%s", got)
	}
}
