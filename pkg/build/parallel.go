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
	// The first failure stops the other stages, a base that a waiting
	// stage cannot pull included. Success cancels nothing: the images
	// pulled meanwhile keep this context to fetch their layers with, when
	// they are pushed.
	ctx, stop := context.WithCancelCause(parent)
	context.AfterFunc(parent, func() { stop(context.Cause(parent)) })
	err := b.buildNeeded(ctx, stop)
	if err != nil && parent.Err() == nil {
		if cause := context.Cause(ctx); cause != nil {
			// The failure that stopped the build, not what stopping it
			// made of the steps still running.
			return cause
		}
	}
	return err
}

func (b *builder) buildNeeded(ctx context.Context, stop context.CancelCauseFunc) error {
	defer b.fetchBasesEarly(ctx, stop)()
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

// fetchBasesEarly starts pulling the base images of the stages that
// cannot start at once (they wait for stages they copy from, or stages
// build one at a time) and downloading their layers, so that they are at
// hand when the stage starts. A base that cannot be pulled fails the
// build at once through fail, as the stage's FROM would (the failed pull
// is what the stage would get): BuildKit, too, fails before building when
// a base cannot be resolved. A layer download that fails is left for the
// stage's own turn. The function returned ends the downloads still going
// and waits for the pulls: the images keep ctx to read their layers with
// when they are pushed.
func (b *builder) fetchBasesEarly(ctx context.Context, fail context.CancelCauseFunc) (stop func()) {
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
			img, err := b.pull(ctx, base.Image, platform)
			if err != nil {
				if ctx.Err() == nil {
					fail(b.df.Stages[i].Wrap(err))
				}
				return
			}
			b.maker.Fetch(fetchCtx, img.layers)
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
