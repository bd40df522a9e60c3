package build

import (
	"context"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// buildStages builds every stage the target needs. Stages that do not depend
// on each other build at once, as many as there are cores: each starts
// when the stages it reads from (its base, COPY --from) are built. With a
// shared Root there is one filesystem, and stages build one at a time.
func (b *builder) buildStages(parent context.Context) error {
	ctx := parent
	defer b.fetchBasesEarly(ctx)()
	if b.roots.exclusive() || len(b.plan.Needed) == 1 {
		for _, i := range b.plan.Needed {
			if _, err := b.stage(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	built := make([]chan struct{}, len(b.stages))
	for _, i := range b.plan.Needed {
		built[i] = make(chan struct{})
	}
	slots := make(chan struct{}, runtime.NumCPU())
	// The first failure stops the other stages. Success cancels nothing:
	// the images pulled meanwhile keep this context to fetch their layers
	// with, when they are pushed.
	ctx, stop := context.WithCancelCause(parent)
	context.AfterFunc(parent, func() { stop(context.Cause(parent)) })
	var g errgroup.Group
	for _, i := range b.plan.Needed {
		g.Go(func() error {
			for _, d := range b.plan.Deps[i] {
				select {
				case <-built[d]:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
			// Waiting for the stages before holds no slot: only building does.
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			_, err := b.stage(ctx, i)
			<-slots
			if err != nil {
				stop(err)
				return err
			}
			close(built[i])
			return nil
		})
	}
	return g.Wait()
}

// fetchBasesEarly starts downloading the base image layers of the stages
// that cannot start at once (they wait for stages they copy from, or
// stages build one at a time), so that they are at hand when the stage
// starts. Failures are left for the stage's own turn. stop ends the
// downloads still going and waits for the pulls: the images keep ctx to
// read their layers with when they are pushed.
func (b *builder) fetchBasesEarly(ctx context.Context) (stop func()) {
	fetchCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for n, i := range b.plan.Needed {
		base := b.plan.Bases[i]
		if base.Kind != dockerfile.BaseImage {
			continue
		}
		if waits := len(b.plan.Deps[i]) > 0 || (b.roots.exclusive() && n > 0); !waits {
			continue // it pulls its base at once anyway
		}
		wg.Go(func() {
			platform, err := b.stagePlatform(i)
			if err != nil {
				return
			}
			if img, err := b.pull(ctx, base.Image, platform); err == nil {
				b.maker.Fetch(fetchCtx, img.layers)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
