package build

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/isolation"
)

// overlapRunner runs steps with chroot isolation, each held a moment,
// and counts how many ran at once.
type overlapRunner struct {
	chroot  *isolation.Chroot
	mu      sync.Mutex
	running int
	most    int
}

func (r *overlapRunner) Run(ctx context.Context, spec *isolation.Spec) error {
	r.mu.Lock()
	r.running++
	r.most = max(r.most, r.running)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	time.Sleep(200 * time.Millisecond)
	return r.chroot.Run(ctx, spec)
}

// TestIndependentStagesOverlap builds two stages that need nothing from
// each other, then one that copies from both: the two run at once, and
// the last waits for them.
func TestIndependentStagesOverlap(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one core: stages build one at a time")
	}
	base := busybox(t)
	df := "FROM " + base + ` AS a
RUN echo a > /a
FROM ` + base + ` AS b
RUN echo b > /b
FROM ` + base + `
COPY --from=a /a /a
COPY --from=b /b /b
RUN cat /a /b > /both
`
	r := &overlapRunner{chroot: &isolation.Chroot{TempDir: t.TempDir()}}
	res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) { o.Runner = r })
	if r.most < 2 {
		t.Errorf("at most %d step ran at a time: the independent stages did not overlap", r.most)
	}
	if got := flatten(t, res.Image)["both"].Body; got != "a\nb\n" {
		t.Errorf("/both = %q, want both stages' files", got)
	}
}

// TestFailingStageStopsTheOthers fails one stage while another runs: the
// build fails with the failing step's error, not a cancellation.
func TestFailingStageStopsTheOthers(t *testing.T) {
	base := busybox(t)
	df := "FROM " + base + ` AS slow
RUN sleep 30
FROM ` + base + ` AS failing
RUN exit 3
FROM ` + base + `
COPY --from=slow /bin/sh /x
COPY --from=failing /bin/sh /y
`
	start := time.Now()
	_, err := buildIn(t, df, map[string]string{}, amd)
	var ee *isolation.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("got %v, want the failing step's exit status 3", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the build took %s: the slow stage was not stopped", d)
	}
}

// TestUnpullableBaseFailsAtOnce: the base of a stage that waits for
// another cannot be pulled. The build fails at once with the error its
// FROM would give, naming that line, rather than when the stage it waits
// for is built (here never: its download hangs until the test ends).
func TestUnpullableBaseFailsAtOnce(t *testing.T) {
	host := testRegistry(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, name := range []string{"stages at once", "one stage at a time"} {
		t.Run(name, func(t *testing.T) {
			df := "FROM scratch AS slow\nADD " + srv.URL + "/hangs /slow\n" +
				"FROM " + host + "/missing:1\nCOPY --from=slow /slow /slow\n"
			mod := func(*Options) {}
			if name == "one stage at a time" {
				mod = func(o *Options) { o.Root = t.TempDir() } // one shared root
			}
			done := make(chan error, 1)
			go func() {
				_, err := buildIn(t, df, map[string]string{}, mod)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("the build still waits for the stage before: a base that cannot be pulled must fail it at once")
			}
			var de *dockerfile.Error
			if !errors.As(err, &de) || de.Line != 3 || !strings.Contains(de.Instruction, "missing:1") {
				t.Fatalf("got %v, want the error of line 3, FROM %s/missing:1", err, host)
			}
			if errors.Is(err, context.Canceled) {
				t.Errorf("got a cancellation: %v", err)
			}
		})
	}
}

// TestTriggerWaitsForAStageBuildingElsewhere: an ONBUILD trigger's COPY
// --from names a stage the plan did not know this one needs, so both
// start at once; the trigger waits for it (it was reported as a cycle).
// A trigger naming its own stage fails, as one naming a later stage.
func TestTriggerWaitsForAStageBuildingElsewhere(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("stages build one at a time on one core")
	}
	needRoot(t)
	host := testRegistry(t)
	base := host + "/onbuild:1"
	pushImage(t, base, v1.Config{Env: []string{"PATH=/bin"}, OnBuild: []string{"COPY --from=slow /made /made"}}, amd64, busyboxLayer(t))
	bb := busybox(t)
	df := "FROM " + bb + " AS slow\nRUN sleep 1 && echo made > /made\nFROM " + base + " AS user\nRUN cat /made\n"
	res, err := buildIn(t, df, map[string]string{}, amd)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if got := flatten(t, res.Image)["made"].Body; got != "made\n" {
		t.Errorf("made = %q", got)
	}
	res.Close()

	self := host + "/onbuild:self"
	pushImage(t, self, v1.Config{Env: []string{"PATH=/bin"}, OnBuild: []string{"COPY --from=me /bin/sh /sh"}}, amd64, busyboxLayer(t))
	// With a cache too: the cache key resolves --from first, and its
	// error must name the trigger's place as the step's does.
	for _, mod := range []func(*Options){amd, func(o *Options) { amd(o); o.Cache = &cache.Layout{Dir: t.TempDir()} }} {
		_, err = buildIn(t, "FROM "+self+" AS me\nRUN true\n", map[string]string{}, mod)
		if err == nil || !strings.Contains(err.Error(), `cannot copy from stage "me"`) || !strings.HasPrefix(err.Error(), "Dockerfile:1: COPY --from=me") {
			t.Errorf("a trigger copying from its own stage: err = %v", err)
		}
	}
}
