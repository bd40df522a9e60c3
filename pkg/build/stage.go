package build

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/rootfs"
)

// defaultPath is the PATH BuildKit gives an image that sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stage is the state of one stage while it builds and once it is built.
type stage struct {
	index  int
	def    *dockerfile.Stage
	prefix string         // "name " before the step numbers in progress lines
	config *v1.ConfigFile // the image config being built
	// startInterval is the health check's start interval, which
	// v1.HealthConfig has no field for (see withStartInterval).
	startInterval time.Duration
	layers        []v1.Layer       // base layers, then this stage's
	vars          *dockerfile.Vars // ENV and ARG values in scope
	args          []dockerfile.ArgDecl
	fs            *rootfs.Root   // the root filesystem; nil until needed
	reads         bool           // a step reads the files of the root (RUN, ADD)
	readMu        sync.Mutex     // one fills in the root for stages reading it at once
	cmdSet        bool           // a CMD was given in this stage
	step          int            // progress: steps shown so far
	total         int            // progress: steps to show
	now           v1.Time        // the time given to history entries
	done          chan struct{}  // closed when the stage is built, or failed
	err           error          // why it failed, once done
	key           string         // the cache key of its last step (of its base at first)
	filesKey      string         // key after the last step that changed files ("" before one)
	onLayer       func(v1.Layer) // told of each new layer, for stages the result is made of
	pending       *pendingLayer  // the last RUN's layer, being written (see settle)

	// argUnset are the variables an ARG's defaults used that nothing
	// set or declared (BuildKit's UndefinedVar), for dispatch to report.
	argUnset []string
}

// stage builds stage i, and first whatever it needs, once. A stage that
// is building elsewhere (stages build at once) is waited for; one that is
// building further up this very chain (an ONBUILD trigger's COPY --from
// naming its own stage, which Plan cannot see) is a cycle.
func (b *builder) stage(ctx context.Context, i int) (*stage, error) {
	b.mu.Lock()
	if st := b.stages[i]; st != nil {
		b.mu.Unlock()
		if inChain(ctx, i) {
			return nil, b.df.Stages[i].Wrap(errCycle)
		}
		select {
		case <-st.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if st.err != nil {
			return nil, st.err
		}
		return st, nil
	}
	def := b.df.Stages[i]
	st := &stage{index: i, def: def, done: make(chan struct{}), now: v1.Time{Time: b.now}}
	if done := b.opts.LayerDone; done != nil && b.inResult(i) {
		st.onLayer = func(l v1.Layer) { done(ctx, l) }
	}
	b.stages[i] = st
	b.mu.Unlock()
	st.err = b.buildStage(withStage(ctx, i), st)
	close(st.done)
	if st.err != nil {
		return nil, st.err
	}
	return st, nil
}

// built tells whether the stage's steps are all done (successfully).
func (st *stage) built() bool {
	select {
	case <-st.done:
		return st.err == nil
	default:
		return false
	}
}

// buildStage sets the stage's base and runs its steps.
func (b *builder) buildStage(ctx context.Context, st *stage) error {
	def, i := st.def, st.index
	st.prefix = b.label
	if len(b.df.Stages) > 1 {
		st.prefix += def.DisplayName() + " "
	}
	if err := b.setBase(ctx, st); err != nil {
		return err
	}
	steps, err := b.withTriggers(st)
	if err != nil {
		return err
	}
	st.total = countShown(steps)
	st.reads = readsFiles(steps)
	if base := b.plan.Bases[i]; base.Kind == dockerfile.BaseImage {
		st.total++
		st.step = 1
		if !b.checking {
			b.prog.vertex(fmt.Sprintf("[%s1/%d] FROM %s", st.prefix, st.total, base.Image)).done()
		}
	}
	defer st.abandon()
	for _, step := range steps {
		if err := b.dispatch(ctx, st, step); err != nil {
			return err
		}
	}
	return b.settle(st)
}

// chainKey is the context key of the stages a call is building, each
// for a stage further down: a stage asked for again within is a cycle.
type chainKey struct{}

func withStage(ctx context.Context, i int) context.Context {
	prev, _ := ctx.Value(chainKey{}).([]int)
	return context.WithValue(ctx, chainKey{}, append(append([]int(nil), prev...), i))
}

func inChain(ctx context.Context, i int) bool {
	chain, _ := ctx.Value(chainKey{}).([]int)
	return slices.Contains(chain, i)
}

// inResult tells whether stage i's layers end up in the result: the
// target's, and those of the stages it is built FROM.
func (b *builder) inResult(i int) bool { return b.inChainOf(b.plan.Target, i) }

// setBase starts a stage from scratch, an earlier stage or an image.
func (b *builder) setBase(ctx context.Context, st *stage) error {
	base := b.plan.Bases[st.index]
	switch base.Kind {
	case dockerfile.BaseScratch:
		st.config = &v1.ConfigFile{OS: b.platform.OS, Architecture: b.platform.Architecture, Variant: b.platform.Variant}
		st.config.RootFS.Type = "layers"
		// BuildKit's empty image says "/"; a RUN there starts at / anyway.
		st.config.Config.WorkingDir = "/"
		st.key = baseKey("scratch", "", b.platform)
	case dockerfile.BaseStage:
		parent, err := b.stage(ctx, base.Stage)
		if err != nil {
			return err
		}
		// The parent's config holds only its own ONBUILD instructions (it
		// ran and cleared those it inherited): they run here.
		st.config = parent.config.DeepCopy()
		st.startInterval = parent.startInterval
		st.layers = append([]v1.Layer(nil), parent.layers...)
		// The parent's ARG values stay in scope, as in BuildKit, though
		// they never were in its config.
		st.vars = parent.vars.Clone()
		st.args = append([]dockerfile.ArgDecl(nil), parent.args...)
		st.key = parent.key
	case dockerfile.BaseImage:
		platform, err := b.stagePlatform(st.index)
		if err != nil {
			return err
		}
		img, err := b.pull(ctx, base.Image, platform)
		if err != nil {
			return st.def.Wrap(err)
		}
		if c := img.config; c.OS != "" && c.Architecture != "" && (c.OS != platform.OS || c.Architecture != platform.Architecture) {
			actual := v1.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant}
			if err := b.warnLint(b.lint.BasePlatform(st.def, base.Image, lintPlatform(*platform), lintPlatform(actual))); err != nil {
				return err
			}
		}
		st.config = img.config.DeepCopy()
		st.startInterval = img.startInterval
		st.layers = append([]v1.Layer(nil), img.layers...)
		st.key = baseKey("image", img.digest.String(), *platform)
	}
	if b.opts.Cache != nil && !b.fixedTime() {
		// With a cache, times come from what the steps' results are: the
		// base's creation, then each layer's (see fromCache), so a rebuild
		// that changes nothing gives the same image.
		st.now = b.baseTime(st, base)
	}
	st.config.Created = v1.Time{}
	if st.config.RootFS.Type == "" {
		st.config.RootFS.Type = "layers"
	}
	if st.vars == nil {
		st.vars = dockerfile.VarsFromEnviron(st.config.Config.Env)
	}
	if _, ok := st.vars.Get("PATH"); !ok {
		st.vars.Set("PATH", defaultPath)
		st.config.Config.Env = append(st.config.Config.Env, "PATH="+defaultPath)
	}
	return nil
}

// withTriggers prepends the base's ONBUILD triggers to the stage's steps
// and clears them from the config, as BuildKit does. A check of every
// stage runs them only in the stages the last one needs, as BuildKit's
// does.
func (b *builder) withTriggers(st *stage) ([]*dockerfile.Step, error) {
	triggers := st.config.Config.OnBuild
	st.config.Config.OnBuild = nil
	if b.triggered != nil && !slices.Contains(b.triggered, st.index) {
		triggers = nil
	}
	var steps []*dockerfile.Step
	for _, t := range triggers {
		step, err := b.df.ParseTrigger(st.def, t)
		if err != nil {
			return nil, err
		}
		steps = append(steps, step)
	}
	return append(steps, st.def.Steps...), nil
}

func (b *builder) stagePlatform(i int) (*v1.Platform, error) {
	if s := b.plan.Platforms[i]; s != "" {
		p, err := ParsePlatform(s)
		if err != nil {
			return nil, b.df.Stages[i].Wrap(err)
		}
		return &p, nil
	}
	p := b.platform
	return &p, nil
}

// countShown counts the steps BuildKit shows as progress: RUN, COPY, ADD
// and WORKDIR.
func countShown(steps []*dockerfile.Step) int {
	n := 0
	for _, s := range steps {
		switch s.Keyword {
		case "RUN", "COPY", "ADD", "WORKDIR":
			n++
		}
	}
	return n
}

// baseTime is when a stage's base was made: an image's creation time, a
// parent stage's latest time, or the epoch for scratch.
func (b *builder) baseTime(st *stage, base dockerfile.Base) v1.Time {
	switch base.Kind {
	case dockerfile.BaseStage:
		return b.stages[base.Stage].now
	case dockerfile.BaseImage:
		if !st.config.Created.IsZero() {
			return v1.Time{Time: st.config.Created.UTC()}
		}
	}
	return v1.Time{Time: time.Unix(0, 0).UTC()}
}
