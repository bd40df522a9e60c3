package build

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/isolation"
)

// countingRunner runs RUN steps with chroot isolation and counts them.
type countingRunner struct {
	isolation.Chroot
	runs atomic.Int32
}

func (r *countingRunner) Run(ctx context.Context, spec *isolation.Spec) error {
	r.runs.Add(1)
	return r.Chroot.Run(ctx, spec)
}

// cachedBuild builds dir's Dockerfile with a layout cache and reports the
// result, how many RUN steps ran and the progress output.
type cachedBuild struct {
	t       *testing.T
	dir     string
	cache   Cache
	args    map[string]string
	ignore  []string // CacheKeyIgnoreArgs
	noReads bool     // CacheWriteOnly
	runs    int
	output  string
	digest  string
	workDir string
}

func (cb *cachedBuild) build() *Result {
	cb.t.Helper()
	runner := &countingRunner{Chroot: isolation.Chroot{TempDir: cb.t.TempDir()}}
	var progress strings.Builder
	res, err := Build(context.Background(), Options{ContextDir: cb.dir, WorkDir: cb.t.TempDir(), Cache: cb.cache,
		BuildArgs: cb.args, CacheKeyIgnoreArgs: cb.ignore, CacheWriteOnly: cb.noReads, Runner: runner, Progress: &progress, Platform: "linux/amd64"})
	if err != nil {
		cb.t.Fatalf("build: %v\n%s", err, progress.String())
	}
	cb.t.Cleanup(func() { res.Close() })
	cb.runs, cb.output, cb.digest = int(runner.runs.Load()), progress.String(), res.Digest.String()
	return res
}

// cachedSteps lists the step names progress marked CACHED.
func cachedSteps(output string) []string {
	names := map[string]string{}
	var out []string
	for _, line := range strings.Split(output, "\n") {
		id, rest, _ := strings.Cut(line, " ")
		if strings.HasPrefix(rest, "[") {
			names[id] = rest[strings.Index(rest, "]")+2:]
		}
		if rest == "CACHED" {
			out = append(out, names[id])
		}
	}
	return out
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{name: body}); err != nil {
		t.Fatal(err)
	}
}

func TestCacheRebuilds(t *testing.T) {
	base := busybox(t, file{name: "etc/motd", body: "base file\n"})
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM "+base+` AS build
RUN echo built > /artifact && rm /etc/motd
COPY early.txt /early.txt
WORKDIR /work
ARG FLAVOUR=plain
RUN echo "$FLAVOUR" > /flavour
COPY late.txt /late.txt
RUN cat /late.txt > /late.copy
FROM `+base+`
COPY --from=build /artifact /flavour /late.copy /out/
RUN rm /etc/motd && ls /out > /listing
`)
	write(t, dir, "early.txt", "early\n")
	write(t, dir, "late.txt", "late\n")
	write(t, dir, "ignored.txt", "not in the context\n")
	write(t, dir, ".dockerignore", "ignored.txt\n")
	cb := &cachedBuild{t: t, dir: dir, cache: &cache.Layout{Dir: t.TempDir()}}

	first := cb.build()
	if cb.runs != 4 || len(cachedSteps(cb.output)) != 0 {
		t.Fatalf("cold build: %d RUNs, cached %v", cb.runs, cachedSteps(cb.output))
	}
	firstDigest := cb.digest

	t.Run("nothing changed", func(t *testing.T) {
		res := cb.build()
		if cb.runs != 0 || len(cachedSteps(cb.output)) != 8 {
			t.Errorf("%d RUNs, cached %v; want none and all 8 steps", cb.runs, cachedSteps(cb.output))
		}
		if cb.digest != firstDigest {
			t.Errorf("digest %s, want the cold build's %s", cb.digest, firstDigest)
		}
		fs := flatten(t, res.Image)
		if _, ok := fs["etc/motd"]; ok {
			t.Error("a file deleted by a cached step came back")
		}
		if fs["out/flavour"].Body != "plain\n" || fs["listing"].Body != "artifact\nflavour\nlate.copy\n" {
			t.Errorf("flavour %q listing %q", fs["out/flavour"].Body, fs["listing"].Body)
		}
		_ = first
	})
	t.Run("ignored file changed", func(t *testing.T) {
		write(t, dir, "ignored.txt", "changed, still not in the context\n")
		cb.build()
		if cb.runs != 0 || cb.digest != firstDigest {
			t.Errorf("%d RUNs, digest %s: a .dockerignore'd file must not matter", cb.runs, cb.digest)
		}
	})
	t.Run("late file changed", func(t *testing.T) {
		write(t, dir, "late.txt", "later\n")
		res := cb.build()
		want := []string{"RUN echo built > /artifact && rm /etc/motd", "COPY early.txt /early.txt", "WORKDIR /work", `RUN echo "$FLAVOUR" > /flavour`}
		if got := cachedSteps(cb.output); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("cached %q, want %q", got, want)
		}
		if cb.runs != 2 {
			t.Errorf("%d RUNs, want the 2 after the changed COPY", cb.runs)
		}
		fs := flatten(t, res.Image)
		if fs["out/late.copy"].Body != "later\n" {
			t.Errorf("late.copy = %q", fs["out/late.copy"].Body)
		}
		if _, ok := fs["etc/motd"]; ok {
			t.Error("the whiteout of a cached layer was lost on a partial rebuild")
		}
	})
	t.Run("build arg changed", func(t *testing.T) {
		cb.args = map[string]string{"FLAVOUR": "spicy"}
		res := cb.build()
		got := cachedSteps(cb.output)
		if len(got) != 3 || got[2] != "WORKDIR /work" || cb.runs != 4-1 {
			t.Errorf("cached %q with %d RUNs: want the 3 steps before the ARG is seen, then 3 RUNs", got, cb.runs)
		}
		if fs := flatten(t, res.Image); fs["out/flavour"].Body != "spicy\n" {
			t.Errorf("flavour = %q", fs["out/flavour"].Body)
		}
		cb.args = nil
	})
}

// TestCacheSeesReincludedFiles: with `*` and `!src/**` in .dockerignore,
// COPY . copies src/ (an ignored directory an exception brings back), so
// a change there must miss the cache (it was served stale once).
func TestCacheSeesReincludedFiles(t *testing.T) {
	base := busybox(t)
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM "+base+"\nCOPY . /app\n")
	write(t, dir, ".dockerignore", "*\n!src/**\n")
	write(t, dir, "src/main.go", "package main // one\n")
	write(t, dir, "other.txt", "ignored\n")
	cb := &cachedBuild{t: t, dir: dir, cache: &cache.Layout{Dir: t.TempDir()}}
	if fs := flatten(t, cb.build().Image); fs["app/src/main.go"].Body != "package main // one\n" {
		t.Fatalf("app/src/main.go = %q", fs["app/src/main.go"].Body)
	}
	write(t, dir, "src/main.go", "package main // two\n")
	res := cb.build()
	if got := cachedSteps(cb.output); len(got) != 0 {
		t.Errorf("cached %q after a re-included file changed", got)
	}
	if fs := flatten(t, res.Image); fs["app/src/main.go"].Body != "package main // two\n" {
		t.Errorf("stale image: app/src/main.go = %q", fs["app/src/main.go"].Body)
	}
	write(t, dir, "other.txt", "still ignored, changed\n")
	cb.build()
	if got := cachedSteps(cb.output); len(got) != 1 {
		t.Errorf("cached %q after an ignored file changed; want the COPY", got)
	}
}

func TestCacheTTL(t *testing.T) {
	base := busybox(t)
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM "+base+"\nRUN echo x > /x\n")
	clock := time.Now()
	layout := &cache.Layout{Dir: t.TempDir(), TTL: time.Hour, Now: func() time.Time { return clock }}
	cb := &cachedBuild{t: t, dir: dir, cache: layout}
	cb.build()
	cb.build()
	if cb.runs != 0 {
		t.Fatalf("a fresh entry missed")
	}
	clock = clock.Add(2 * time.Hour)
	cb.build()
	if cb.runs != 1 {
		t.Errorf("an expired entry was used")
	}
}

func TestCacheConcurrentBuilds(t *testing.T) {
	base := busybox(t)
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM "+base+"\nRUN echo one > /one\nCOPY f /f\nRUN echo two > /two\n")
	write(t, dir, "f", "content\n")
	shared := t.TempDir()
	var wg sync.WaitGroup
	digests := make([]string, 4)
	for i := range digests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cb := &cachedBuild{t: t, dir: dir, cache: &cache.Layout{Dir: shared}}
			cb.build()
			digests[i] = cb.digest
		}()
	}
	wg.Wait()
	cb := &cachedBuild{t: t, dir: dir, cache: &cache.Layout{Dir: shared}}
	res := cb.build()
	if cb.runs != 0 {
		t.Errorf("after concurrent builds, a rebuild ran %d RUNs", cb.runs)
	}
	if fs := flatten(t, res.Image); fs["one"].Body != "one\n" || fs["two"].Body != "two\n" || fs["f"].Body != "content\n" {
		t.Errorf("rebuilt from a shared cache: %v", fs["two"])
	}
}

// TestCacheKeyIgnoreArg: a build arg named in CacheKeyIgnoreArgs changes
// no key, whether RUN uses it or an ENV was made from it; others do.
func TestCacheKeyIgnoreArg(t *testing.T) {
	base := busybox(t)
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM "+base+"\nARG VERSION\nARG OTHER\nENV STAMP=v$VERSION\nRUN echo $VERSION $OTHER > /version\n")
	store := &cache.Layout{Dir: t.TempDir()}
	for _, tc := range []struct {
		args   map[string]string
		ignore []string
		runs   int
	}{
		{map[string]string{"VERSION": "1.0", "OTHER": "a"}, []string{"VERSION"}, 1},
		{map[string]string{"VERSION": "2.0", "OTHER": "a"}, []string{"VERSION"}, 0},
		{map[string]string{"VERSION": "2.0", "OTHER": "b"}, []string{"VERSION"}, 1},
		{map[string]string{"VERSION": "3.0", "OTHER": "b"}, nil, 1},
	} {
		cb := &cachedBuild{t: t, dir: dir, cache: store, args: tc.args, ignore: tc.ignore}
		cb.build()
		if cb.runs != tc.runs {
			t.Errorf("%v ignoring %v: %d RUN steps ran, want %d", tc.args, tc.ignore, cb.runs, tc.runs)
		}
	}
}

// TestCacheWriteOnly (docker build --no-cache with a cache): every step
// runs though the cache has it, and what it stores serves the next build.
func TestCacheWriteOnly(t *testing.T) {
	base := busybox(t)
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM "+base+"\nRUN echo one > /one\nRUN echo two > /two\n")
	read, written := &cache.Layout{Dir: t.TempDir()}, &cache.Layout{Dir: t.TempDir()}
	for i, tc := range []struct {
		store   *cache.Layout
		noReads bool
		runs    int
	}{
		{read, false, 2},    // fills the cache
		{read, true, 2},     // reads none of it
		{written, true, 2},  // stores into an empty cache
		{written, false, 0}, // which the next build reads
	} {
		cb := &cachedBuild{t: t, dir: dir, cache: tc.store, noReads: tc.noReads}
		cb.build()
		if cb.runs != tc.runs {
			t.Errorf("build %d (write only %v): %d RUN steps ran, want %d", i+1, tc.noReads, cb.runs, tc.runs)
		}
	}
}
