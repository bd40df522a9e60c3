package build

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/isolation"
)

// checkEmulation fails before the build starts when a stage it needs runs
// programs for a CPU this machine cannot run, natively or through a
// registered emulator; it tells which stages run emulated.
func (b *builder) checkEmulation() error {
	if b.opts.Runner != nil {
		return nil // a Runner of the caller's: it knows what it runs
	}
	for _, i := range b.plan.Needed {
		def := b.df.Stages[i]
		if !hasRun(def.Steps) {
			continue
		}
		p, err := b.runPlatform(i)
		if err != nil {
			return err
		}
		if p.OS != "linux" {
			return def.Wrap(fmt.Errorf("RUN for %s: only Linux programs can run here", p))
		}
		handler, err := isolation.Emulation(p.Architecture, p.Variant)
		if errors.Is(err, isolation.ErrHandlersHidden) {
			// In a container that hides them, the host's handlers still
			// apply: the step runs, and fails if there is none.
			b.warn("%s: %v", def.DisplayName(), err)
			continue
		}
		if err != nil {
			return def.Wrap(err)
		}
		if handler != "" {
			b.opts.Logger.Info("RUN steps are emulated", "stage", def.DisplayName(), "platform", p.String(), "binfmt_misc", handler)
		}
	}
	return nil
}

// runPlatform is the platform stage i's programs are for: its own
// platform, or that of the stage it is built FROM.
func (b *builder) runPlatform(i int) (*v1.Platform, error) {
	for b.plan.Bases[i].Kind == dockerfile.BaseStage && b.plan.Platforms[i] == "" {
		i = b.plan.Bases[i].Stage
	}
	return b.stagePlatform(i)
}

func hasRun(steps []*dockerfile.Step) bool {
	for _, s := range steps {
		if s.Keyword == "RUN" {
			return true
		}
	}
	return false
}
