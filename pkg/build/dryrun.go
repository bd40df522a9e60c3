package build

import (
	"context"
	"fmt"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// Plan is what a build would do: the stages the target needs, in the
// order they build, each with its base and steps.
type Plan struct {
	Stages []PlannedStage
}

// PlannedStage is one stage of a Plan.
type PlannedStage struct {
	Name string // the stage's name, or "stage-N"
	// Platform is the platform the stage is built for, in a build for
	// more than one; "" otherwise.
	Platform string
	Base     string   // "scratch", "stage NAME", or the image with its digest
	Steps    []string // the instructions as written
}

// DryRun parses the Dockerfile, resolves the base images (their
// manifests and configs, never their layers) and plans the build,
// reporting the errors a build would report before its first step. It
// writes nothing and runs nothing.
func DryRun(ctx context.Context, opts Options) (*Plan, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if len(opts.Platforms) == 0 {
		return dryRunOne(ctx, opts)
	}
	plan := &Plan{}
	for _, p := range opts.Platforms {
		o := opts
		o.Platform, o.Platforms = p, nil
		one, err := dryRunOne(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("planning for %s: %w", p, err)
		}
		for _, st := range one.Stages {
			st.Platform = p
			plan.Stages = append(plan.Stages, st)
		}
	}
	return plan, nil
}

func dryRunOne(ctx context.Context, opts Options) (*Plan, error) {
	b, err := planBuilder(opts)
	if err != nil {
		return nil, err
	}
	plan := &Plan{}
	for _, i := range b.plan.Needed {
		def := b.df.Stages[i]
		ps := PlannedStage{Name: def.DisplayName()}
		switch base := b.plan.Bases[i]; base.Kind {
		case dockerfile.BaseScratch:
			ps.Base = "scratch"
		case dockerfile.BaseStage:
			ps.Base = "stage " + b.df.Stages[base.Stage].DisplayName()
		default:
			platform, err := b.stagePlatform(i)
			if err != nil {
				return nil, def.Wrap(err)
			}
			img, err := b.pull(ctx, base.Image, platform)
			if err != nil {
				return nil, def.Wrap(err)
			}
			ps.Base = fmt.Sprintf("%s@%s (%s, %d layers)", base.Image, img.digest, platform, len(img.layers))
		}
		for _, step := range def.Steps {
			ps.Steps = append(ps.Steps, step.Source)
		}
		plan.Stages = append(plan.Stages, ps)
	}
	return plan, nil
}
