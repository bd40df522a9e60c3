package build

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/buildcrew/builder/pkg/cache"
)

// PlatformImage is one platform's image of a multi-platform build.
type PlatformImage struct {
	Platform v1.Platform
	Image    v1.Image
	Digest   v1.Hash
}

// buildPlatforms builds opts once per platform, at once unless the
// stages share one root (isolation none), and makes an index of the
// images. A step whose key is the same on two platforms (a stage FROM
// --platform=$BUILDPLATFORM that does not read TARGETARCH, say) runs
// once: the other platforms take its result, as from a cache.
func buildPlatforms(parent context.Context, opts Options) (*Result, error) {
	if opts.DockerfileData == nil {
		src, err := readInContext(opts.ContextDir, opts.Dockerfile)
		if err != nil {
			return nil, fmt.Errorf("reading the Dockerfile: %w", err)
		}
		opts.DockerfileData = src
	}
	share := &platformShare{prog: &progress{w: opts.Progress, events: opts.Events}, steps: map[string]*sharedStep{},
		images: map[string]*sharedImage{}, roots: map[string]string{}, warned: map[string]bool{}, platforms: len(opts.Platforms)}
	// Every platform is planned before any builds: a platform that
	// cannot build (no emulator for its RUN steps, say) stops them all
	// before they start.
	builders := make([]*builder, len(opts.Platforms))
	for i, p := range opts.Platforms {
		o := opts
		o.Platform, o.Platforms = p, nil
		b, err := newBuilder(o, false, share)
		if err != nil {
			return nil, fmt.Errorf("building for %s: %w", p, err)
		}
		b.keepRoots = true
		builders[i] = b
	}
	parts := make([]*Result, len(opts.Platforms))
	closeAll := func() {
		for _, r := range parts {
			r.Close()
		}
	}
	// The first failure stops the other platforms; success cancels
	// nothing (the images' base layers are fetched with ctx when pushed).
	ctx, stop := context.WithCancelCause(parent)
	context.AfterFunc(parent, func() { stop(context.Cause(parent)) })
	var g errgroup.Group
	if opts.Root != "" {
		g.SetLimit(1) // one root: one platform at a time
	}
	for i, b := range builders {
		g.Go(func() error {
			if err := context.Cause(ctx); err != nil {
				return err
			}
			if opts.Root != "" {
				// One root, the platforms in turn: each empties it
				// first, but for the work of those built before (their
				// layers are the index's).
				b.opts.Ignore = slices.Clone(b.opts.Ignore)
				for _, done := range builders[:i] {
					if done.work != "" {
						b.opts.Ignore = append(b.opts.Ignore, done.work)
					}
				}
			}
			r, err := b.buildPlanned(ctx)
			if err != nil {
				err = fmt.Errorf("building for %s: %w", opts.Platforms[i], err)
				stop(err)
				return err
			}
			parts[i] = r
			return nil
		})
	}
	err := g.Wait()
	// The roots go only now: a platform's build may read another's.
	for i, b := range builders {
		if parts[i] != nil && !opts.KeepWorkDir {
			b.removeRoots()
		}
	}
	if err != nil {
		// The first failure, not what it made of the others.
		if cause := context.Cause(ctx); cause != nil && parent.Err() == nil {
			err = cause
		}
		closeAll()
		return nil, err
	}
	res, err := indexOf(opts, parts)
	if err != nil {
		closeAll()
		return nil, err
	}
	return res, nil
}

// indexOf makes the result of a multi-platform build from its platforms'.
func indexOf(opts Options, parts []*Result) (*Result, error) {
	mt := types.OCIImageIndex
	if opts.Format == Docker {
		mt = types.DockerManifestList
	}
	res := &Result{Target: parts[0].Target, Phases: Phases{}, parts: parts}
	var adds []mutate.IndexAddendum
	for i, r := range parts {
		p, err := ParsePlatform(opts.Platforms[i])
		if err != nil {
			return nil, err
		}
		res.Platforms = append(res.Platforms, PlatformImage{Platform: p, Image: r.Image, Digest: r.Digest})
		adds = append(adds, mutate.IndexAddendum{Add: r.Image, Descriptor: v1.Descriptor{Platform: &p}})
		for k, d := range r.Phases {
			res.Phases[k] += d
		}
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), adds...)
	if len(opts.Annotations) > 0 {
		idx = mutate.Annotations(idx, opts.Annotations).(v1.ImageIndex)
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("computing the index digest: %w", err)
	}
	res.Index, res.Digest = idx, digest
	return res, nil
}

// platformShare is what the builds of one multi-platform build share: the
// progress output, the results of steps by key, the unpacked roots of
// images and the roots of stages the same on every platform (built FROM
// --platform=$BUILDPLATFORM).
type platformShare struct {
	prog      *progress
	platforms int // how many builds share this
	mu        sync.Mutex
	steps     map[string]*sharedStep
	images    map[string]*sharedImage
	roots     map[string]string // a built stage's root, by its last key
	warned    map[string]bool   // the warnings said: each once, as BuildKit does
}

// firstWarning tells whether no build has said warning yet, and notes it.
func (s *platformShare) firstWarning(warning string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.warned[warning] {
		return false
	}
	s.warned[warning] = true
	return true
}

// sharedImage is an image's root, unpacked by one platform's build.
type sharedImage struct {
	once sync.Once
	dir  string
	err  error
}

// imageRoot returns the image's files unpacked by whichever build asked
// first, with its own maker: a template to clone, never written.
func (s *platformShare) imageRoot(key string, unpack func() (string, error)) (string, error) {
	s.mu.Lock()
	si, ok := s.images[key]
	if !ok {
		si = &sharedImage{}
		s.images[key] = si
	}
	s.mu.Unlock()
	si.once.Do(func() { si.dir, si.err = unpack() })
	return si.dir, si.err
}

// sharedRootKey names the files of stage i after the step with key
// chain. Two builds whose stage i reaches the same chain have made the
// same files with the same steps, and have as many steps that change
// files to go: none, for the one that asks (see privateRoots.read).
func sharedRootKey(i int, chain string) string { return strconv.Itoa(i) + "|" + chain }

// stageRoot returns the root another platform's build made of a stage,
// by sharedRootKey, or "".
func (s *platformShare) stageRoot(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roots[key]
}

// offerRoot lets the other platforms' builds read dir, a stage's root,
// by sharedRootKey.
func (s *platformShare) offerRoot(key, dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roots[key]; !ok {
		s.roots[key] = dir
	}
}

// sharedStep is a step's result, made by one platform's build for all.
type sharedStep struct {
	done  chan struct{} // closed when entry is set, or the build gave up
	entry *cache.Entry
}

// claim returns the result another platform's build made of the step
// with key, waiting while that build is making it. When none has, the
// caller gets the key: it makes the result and hands it to release, or
// nil if it could not (another build then makes it). Only steps whose
// inputs are all ready are claimed, so a claim never waits for a claim.
func (s *platformShare) claim(ctx context.Context, key string) (*cache.Entry, func(*cache.Entry), error) {
	for {
		s.mu.Lock()
		ss, ok := s.steps[key]
		if !ok {
			ss = &sharedStep{done: make(chan struct{})}
			s.steps[key] = ss
			s.mu.Unlock()
			var once sync.Once
			release := func(e *cache.Entry) {
				once.Do(func() {
					s.mu.Lock()
					if e == nil {
						delete(s.steps, key)
					}
					ss.entry = e
					s.mu.Unlock()
					close(ss.done)
				})
			}
			return nil, release, nil
		}
		s.mu.Unlock()
		select {
		case <-ss.done:
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		}
		if ss.entry != nil {
			return ss.entry, func(*cache.Entry) {}, nil
		}
	}
}

// lintPlatform is p as BuildKit's checks print it: "os/arch[/variant]",
// without arm64's default variant.
func lintPlatform(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" && !(p.Architecture == "arm64" && (p.Variant == "v8" || p.Variant == "8")) {
		s += "/" + p.Variant
	}
	return s
}
