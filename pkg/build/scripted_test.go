package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/isolation"
)

// scriptedRunner is a Runner that starts no process: each RUN command
// (its last argument, the shell script) maps to a Go function that changes
// the root as the command would. It records what ran and how many ran at
// once. Tests of cache chains, stage planning and parallel stages use it
// without root; the tests with real RUN steps stay.
type scriptedRunner struct {
	scripts map[string]func(root string) error
	hold    time.Duration // how long each step takes

	mu            sync.Mutex
	ran           []string
	running, most int
}

var _ Runner = (*scriptedRunner)(nil)

func (r *scriptedRunner) Run(ctx context.Context, spec *isolation.Spec) error {
	cmd := spec.Args[len(spec.Args)-1]
	r.mu.Lock()
	r.ran = append(r.ran, cmd)
	r.running++
	r.most = max(r.most, r.running)
	f := r.scripts[cmd]
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if f == nil {
		return fmt.Errorf("no script for %q", cmd)
	}
	select {
	case <-time.After(r.hold):
	case <-ctx.Done():
		return ctx.Err()
	}
	return f(spec.Root)
}

// took returns what ran since the last call, in order.
func (r *scriptedRunner) took() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ran := r.ran
	r.ran = nil
	return ran
}

// writes is a script that writes body to rel in the root.
func writes(rel, body string) func(string) error {
	return func(root string) error {
		return os.WriteFile(filepath.Join(root, rel), []byte(body), 0o644)
	}
}

// plainBase pushes an image of a few files, no programs, to a registry
// in memory: a base for scripted builds, which need no root.
func plainBase(t *testing.T) string {
	t.Helper()
	ref := testRegistry(t) + "/plain:1"
	pushImage(t, ref, v1.Config{Env: []string{"PATH=/bin"}}, amd64,
		layerOf(t, file{name: "etc/"}, file{name: "etc/passwd", body: "root:x:0:0:root:/root:/bin/sh\n"},
			file{name: "etc/group", body: "root:x:0:\n"}, file{name: "etc/motd", body: "base\n"}))
	return ref
}

// TestScriptedCacheChain: a cold build runs every RUN; a rebuild runs
// none; a changed file reruns the RUN after its COPY only, and that RUN
// sees the new file. No root needed.
func TestScriptedCacheChain(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM "+plainBase(t)+"\nRUN first\nCOPY input /input\nRUN second\n")
	write(t, dir, "input", "one\n")
	r := &scriptedRunner{scripts: map[string]func(string) error{
		"first": writes("first", "ran\n"),
		"second": func(root string) error {
			in, err := os.ReadFile(filepath.Join(root, "input"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, "output"), append([]byte("saw "), in...), 0o644)
		},
	}}
	store := &cache.Layout{Dir: t.TempDir()}
	build := func() map[string]entry {
		t.Helper()
		res, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir(), Runner: r, Cache: store, Platform: "linux/amd64"})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		return flatten(t, res.Image)
	}
	if fs := build(); !slices.Equal(r.took(), []string{"first", "second"}) || fs["output"].Body != "saw one\n" || fs["first"].Body != "ran\n" {
		t.Fatalf("cold build: output %q", fs["output"].Body)
	}
	if fs := build(); len(r.took()) != 0 || fs["output"].Body != "saw one\n" {
		t.Errorf("rebuild ran steps or lost output %q", fs["output"].Body)
	}
	write(t, dir, "input", "two\n")
	fs := build()
	if ran := r.took(); !slices.Equal(ran, []string{"second"}) {
		t.Errorf("after the input changed, ran %v; want only the RUN after its COPY", ran)
	}
	if fs["output"].Body != "saw two\n" || fs["first"].Body != "ran\n" {
		t.Errorf("output %q first %q", fs["output"].Body, fs["first"].Body)
	}
}

// TestScriptedStagesOverlap: two stages that need nothing from each other
// build at once; the stage copying from both waits for them, and a stage
// the target does not need never runs. No root needed.
func TestScriptedStagesOverlap(t *testing.T) {
	base := plainBase(t)
	df := fmt.Sprintf(`FROM %[1]s AS a
RUN make-a
FROM %[1]s AS b
RUN make-b
FROM %[1]s AS unused
RUN never
FROM %[1]s
COPY --from=a /a /a
COPY --from=b /b /b
RUN both
`, base)
	r := &scriptedRunner{hold: 300 * time.Millisecond, scripts: map[string]func(string) error{
		"make-a": writes("a", "a\n"), "make-b": writes("b", "b\n"),
		"both": func(root string) error {
			for _, f := range []string{"a", "b"} {
				if _, err := os.Stat(filepath.Join(root, f)); err != nil {
					return fmt.Errorf("the last stage ran before %s was copied: %w", f, err)
				}
			}
			return writes("both", "ok\n")(root)
		},
	}}
	res, err := buildIn(t, df, map[string]string{}, amd, func(o *Options) { o.Runner = r })
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	ran := r.took()
	if slices.Contains(ran, "never") || !slices.Contains(ran, "both") || ran[len(ran)-1] != "both" {
		t.Errorf("ran %v", ran)
	}
	if fs := flatten(t, res.Image); fs["both"].Body != "ok\n" {
		t.Errorf("both = %q", fs["both"].Body)
	}
	if n := runtime.NumCPU(); n > 1 && r.most < 2 {
		t.Errorf("the two independent stages never ran at once (%d cores)", n)
	}
}
