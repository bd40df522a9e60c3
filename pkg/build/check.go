package build

import (
	"context"
	"fmt"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// Check runs BuildKit's Dockerfile checks without building, as `docker
// build --check` does: it parses the file, resolves the base images'
// configs (never their layers) and goes through the steps of every stage,
// or with a Target of that stage and those it needs, keeping track of
// variables, the working directory and the SHELL as a build would, so
// that the checks that need them (UndefinedVar, JSONArgsRecommended,
// CopyIgnoredFile, InvalidBaseImagePlatform...) run too. It runs nothing
// and writes nothing, and returns every warning, each once; with an
// error (a base that cannot be pulled, a bad instruction), those found
// before it. The file's "# check=" settings decide which rules run;
// error=true changes nothing here: any warning is a failed check.
func Check(ctx context.Context, opts Options) (*CheckResult, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	platforms := opts.Platforms
	if len(platforms) == 0 {
		platforms = []string{opts.Platform}
	}
	res := &CheckResult{}
	seen := map[string]bool{}
	for _, p := range platforms {
		o := opts
		o.Platform, o.Platforms = p, nil
		ws, src, err := checkOne(ctx, o)
		res.Dockerfile = src
		for _, w := range ws {
			// A platform's base may differ; the same warning is said once.
			if !seen[w.String()] {
				seen[w.String()] = true
				res.Warnings = append(res.Warnings, w)
			}
		}
		if err != nil && len(platforms) > 1 {
			err = fmt.Errorf("checking for %s: %w", p, err)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// CheckResult is what Check found.
type CheckResult struct {
	Warnings   []dockerfile.Warning // in the order found
	Dockerfile []byte               // the text checked, to quote
}

func checkOne(ctx context.Context, opts Options) ([]dockerfile.Warning, []byte, error) {
	b, err := planChecks(opts)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range b.plan.Needed {
		if _, err := b.stage(ctx, i); err != nil {
			return b.lint.Warnings(), b.source, err
		}
	}
	return b.lint.Warnings(), b.source, nil
}

// metaOnly is what a step does in a check: it changes the config and the
// variables in scope, never the files. What a --from names is resolved
// as the build would: a stage that is none fails, an image's config is
// fetched (as BuildKit's checks do).
func (b *builder) metaOnly(ctx context.Context, st *stage, ins dockerfile.Instruction) error {
	switch c := ins.(type) {
	case *dockerfile.Run:
		for _, m := range c.Mounts {
			if err := b.checkFrom(ctx, st, m.From); err != nil {
				return err
			}
		}
		return nil
	case *dockerfile.Copy:
		return b.checkFrom(ctx, st, c.From)
	case *dockerfile.Workdir:
		st.setWorkdir(c)
		return nil
	}
	return b.execute(ctx, st, ins, nil)
}

// checkFrom resolves what a --from names, without its files.
func (b *builder) checkFrom(ctx context.Context, st *stage, name string) error {
	if name == "" {
		return nil
	}
	from, err := b.resolveFrom(st, name)
	if err != nil {
		return err
	}
	if from.Kind != dockerfile.BaseImage {
		return nil // a stage: checked on its own
	}
	p := b.platform
	_, err = b.pull(ctx, from.Image, &p)
	return err
}
