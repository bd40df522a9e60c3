package build

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

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
