// Package build builds a Dockerfile into an image without a daemon. It
// chooses once per build how stages get their root filesystems (roots: a
// private directory per stage, cloned, stacked from kept layers,
// outlined or unpacked, which package rootfs makes; or one shared
// directory, the builder's own "/" in a container) and how RUN runs
// (stepRuns: on an overlayfs whose upper directory holds the step's
// changes, or in the root itself with changes found from file metadata;
// both give layer entries). Steps go through one dispatch switch, COPY
// and ADD through package copier, and each change becomes an OCI layer.
// The result is a go-containerregistry v1.Image, ready for the push
// package, remote.Write or layout.Write.
package build

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/buildcrew/builder/internal/rmtree"
	"github.com/buildcrew/builder/internal/spread"
	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/buildcrew/builder/pkg/rootfs"
)

// Result is a built image, or with more than one platform an image index
// of one image per platform. Its layers live in the build's work
// directory until Close.
type Result struct {
	// Image is the image; nil when Index is set.
	Image v1.Image
	// Index is the result of a build for more than one platform: an OCI
	// image index (a Docker manifest list in the Docker format) of
	// Platforms' images.
	Index v1.ImageIndex
	// Platforms are the images of a multi-platform build, in the order
	// their platforms were asked for.
	Platforms []PlatformImage
	// Digest is the digest of Image, or of Index when it is set.
	Digest v1.Hash
	// Extra are the images of Options.ExtraTargets, in the order given.
	Extra []TargetImage
	// Target is the name of the stage that was built ("stage-N" if unnamed).
	Target string
	// Phases is where the build's time went.
	Phases Phases
	work   string
	maker  *rootfs.Maker // what is still being deleted in the work directory
	lock   *os.File      // held on the work directory until Close
	parts  []*Result     // the platforms' results, closed with this one
}

// TargetImage is the image of one of Options.ExtraTargets.
type TargetImage struct {
	Stage  string // the stage's name, or "stage-N"
	Image  v1.Image
	Digest v1.Hash
}

// Close removes the layers the image was built from. Use the image before.
func (r *Result) Close() error {
	if r == nil {
		return nil
	}
	var errs []error
	for _, p := range r.parts {
		errs = append(errs, p.Close())
	}
	if r.work == "" {
		return errors.Join(errs...)
	}
	if r.maker != nil {
		r.maker.Wait()
	}
	errs = append(errs, rmtree.RemoveAll(r.work))
	if r.lock != nil {
		r.lock.Close()
	}
	return errors.Join(errs...)
}

type builder struct {
	opts            Options
	prog            *progress
	df              *dockerfile.Dockerfile
	plan            *dockerfile.Plan
	lint            *dockerfile.Lint // BuildKit's checks of the file
	globals         *dockerfile.Vars
	bctx            *buildContext
	work            string
	runner          Runner
	platform        v1.Platform
	stages          []*stage
	pulled          map[string]*pullCall
	used            map[string]bool // build args some ARG declared
	roots           roots           // how stages get their root filesystems
	started         time.Time       // when the build began, for cache entries
	cacheWrites     cacheWriter
	cacheUnreadable atomic.Bool // a read failed: the rest of the build does not try again
	phases          Phases
	now             time.Time
	// mu guards what stages building at once share: phases, used and
	// stepRuns.
	mu       sync.Mutex
	pullMu   sync.Mutex           // guards pulled
	stepRuns stepRuns             // how RUN runs; nil until first asked
	ssh      map[string]sshSource // the agents RUN --mount=type=ssh gets, by id
	lock     *os.File             // held on the work directory while it lives
	// mountsUsed are the cache mount ids steps used (guarded by mu).
	mountsUsed map[string]bool
	maker      *rootfs.Maker // makes the roots, deletes them in the background
	downloads  *http.Client  // ADD's URLs
	// share is what the builds of the other platforms of a multi-platform
	// build share with this one; nil for one platform.
	share          *platformShare
	label          string        // "linux/arm64 " before step names, in a multi-platform build
	extra          []TargetImage // the images of the extra targets
	layerDirWarned sync.Once     // the base layer directory is full: said once
	// keepRoots leaves the roots after the build, for whoever made the
	// builder to remove (the other platforms' builds may read them).
	keepRoots bool
	// checking goes through the steps for BuildKit's checks only (see
	// Check): nothing runs, nothing is written.
	checking bool
	source   []byte // the Dockerfile's text
	// triggered, in a check of every stage, are the stages the last one
	// needs: BuildKit runs ONBUILD triggers in those only.
	triggered []int
}

// Build runs the build described by opts.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if len(opts.Platforms) > 1 {
		return buildPlatforms(ctx, opts)
	}
	b, err := planBuilder(opts)
	if err != nil {
		return nil, err
	}
	return b.buildPlanned(ctx)
}

// buildPlanned makes the planned build happen.
func (b *builder) buildPlanned(ctx context.Context) (*Result, error) {
	opts := b.opts
	if err := b.prepare(); err != nil {
		return nil, err
	}
	img, err := b.build(ctx)
	if err == nil && opts.ExportCacheMounts {
		b.exportCacheMounts(ctx)
	}
	if ws := b.cacheWrites.wait(); len(ws) == 1 {
		b.warn("writing the cache: %s", ws[0])
	} else if len(ws) > 1 {
		b.warn("writing the cache failed %d times; the first: %s", len(ws), ws[0])
	}
	if !opts.KeepWorkDir && !b.keepRoots {
		b.removeRoots()
	}
	// Asked for whatever happened: a cancelled build is emptied too.
	if cerr := b.roots.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		b.removeWork()
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		b.removeWork()
		return nil, fmt.Errorf("computing the image digest: %w", err)
	}
	res := &Result{Image: img, Digest: digest, Target: b.df.Stages[b.plan.Target].DisplayName(), Phases: b.phases, work: b.work, maker: b.maker, lock: b.lock, Extra: b.extra}
	if opts.KeepWorkDir {
		res.work, res.lock = "", nil
		b.keepWork()
	}
	return res, nil
}

// planBuilder parses the Dockerfile and plans the build; it writes
// nothing.
func planBuilder(opts Options) (*builder, error) { return newBuilder(opts, false, nil) }

// planChecks plans a check (see Check): without a target, of every
// stage.
func planChecks(opts Options) (*builder, error) { return newBuilder(opts, true, nil) }

// newBuilder plans a build, or a check; share, when set, is what the
// builds of a multi-platform build share (see buildPlatforms).
func newBuilder(opts Options, checking bool, share *platformShare) (*builder, error) {
	src := opts.DockerfileData
	if src == nil {
		var err error
		if src, err = readInContext(opts.ContextDir, opts.Dockerfile); err != nil {
			return nil, fmt.Errorf("reading the Dockerfile: %w", err)
		}
	}
	df, err := dockerfile.Parse(filepath.Base(opts.Dockerfile), src)
	if err != nil {
		return nil, err
	}
	platform, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	bctx, inside, err := openContext(opts.ContextDir, opts.Dockerfile, opts.ExcludeFromContext)
	if err != nil {
		return nil, err
	}
	b := &builder{
		opts: opts, checking: checking, source: src, prog: &progress{w: opts.Progress, events: opts.Events}, df: df, bctx: bctx, platform: platform,
		stages: make([]*stage, len(df.Stages)), pulled: map[string]*pullCall{},
		used: map[string]bool{}, now: time.Now().UTC(),
		downloads: newDownloadClient(),
	}
	if share != nil {
		b.share, b.prog, b.label = share, share.prog, platform.String()+" "
	}
	for _, p := range inside {
		b.warn("%s is inside the build context: it is left out of it, so no COPY can put it in the image", p)
	}
	if df.ForeignSyntax() {
		b.warn("%s: the # syntax= line names %s, which BuildKit would run as the Dockerfile's frontend; this builder ignores it and reads the file as BuildKit's own Dockerfile syntax", df.Name, df.Syntax)
	}
	b.started = b.now.Truncate(time.Second)
	b.phases = Phases{}
	if opts.Reproducible {
		b.now = time.Unix(0, 0).UTC()
	}
	if opts.SourceDateEpoch != nil {
		b.now = opts.SourceDateEpoch.UTC()
	}
	host, _ := ParsePlatform("")
	auto := dockerfile.PlatformArgs(toDFPlatform(host), toDFPlatform(platform), opts.Target, opts.BuildArgs)
	if b.globals, err = df.Globals(auto, opts.BuildArgs); err != nil {
		return nil, err
	}
	for _, step := range df.MetaArgs {
		for _, k := range argKeys(step) {
			b.used[k] = true
		}
	}
	if b.plan, err = df.Plan(opts.Target, b.globals); err != nil {
		return nil, err
	}
	if err := df.AddTargets(b.plan, opts.ExtraTargets...); err != nil {
		return nil, err
	}
	if checking && opts.Target == "" {
		b.triggered = slices.Clone(b.plan.Needed)
		b.plan.NeedAll() // as BuildKit checks: no target is every stage
	}
	if b.lint, err = df.Lint(b.plan, auto, b.globals, opts.BuildArgs); err != nil {
		return nil, err
	}
	b.used[dockerfile.CheckArg] = true
	if checking {
		return b, nil // the caller says the warnings; nothing runs
	}
	for _, w := range b.lint.Warnings() {
		b.warn("%s", w)
	}
	if err := b.lint.Err(); err != nil {
		return nil, err
	}
	if err := b.checkEmulation(); err != nil {
		return nil, err
	}
	if !opts.AllowInsecure {
		for _, i := range b.plan.Needed {
			for _, step := range df.Stages[i].Steps {
				if step.Insecure() {
					return nil, step.Wrap(errInsecure)
				}
				if len(step.Devices) > 0 {
					return nil, step.Wrap(devicesError(step.Devices))
				}
			}
		}
	}
	return b, nil
}

// prepare makes the work directory and what the build runs with.
func (b *builder) prepare() error {
	opts := b.opts
	var err error
	if err := os.MkdirAll(opts.WorkDir, 0o700); err != nil {
		return fmt.Errorf("creating the work directory: %w", err)
	}
	cleanStaleWork(opts.WorkDir, opts.Logger)
	if b.work, b.lock, err = newWorkDir(opts.WorkDir); err != nil {
		return fmt.Errorf("creating the work directory: %w", err)
	}
	for _, d := range []string{"layers", "tmp", "overlays"} {
		if err := os.Mkdir(filepath.Join(b.work, d), 0o700); err != nil {
			return err
		}
	}
	// What each RUN writes in block groups no tree deleted a moment ago
	// had (see package spread).
	spread.Children(filepath.Join(b.work, "overlays"))
	if b.maker, err = rootfs.New(rootfs.Options{
		Work: b.work, LayerDir: opts.BaseLayerDir, Retry: b.retryPull, Spent: b.addPhase, Logger: opts.Logger,
		LayerDirFull: b.layerDirFull,
		Repaired: func(err error) {
			b.warn("the base layer directory held a damaged layer, fetched again: %v", err)
		},
	}); err != nil {
		return err
	}
	if b.ssh, err = sshSources(opts.SSH); err != nil {
		return err
	}
	b.runner = opts.Runner
	switch {
	case b.runner != nil:
	case opts.Root != "":
		b.runner = isolation.None{}
	default:
		b.runner = &isolation.Chroot{TempDir: filepath.Join(b.work, "tmp"), Limits: opts.Limits}
	}
	b.roots = &privateRoots{b: b}
	if opts.Root != "" {
		b.roots = newSharedRoot(b, opts)
	}
	return nil
}

func (b *builder) build(ctx context.Context) (v1.Image, error) {
	if err := b.buildStages(ctx); err != nil {
		return nil, err
	}
	target := b.stages[b.plan.Target]
	b.warnUnusedArgs()
	v := b.prog.vertex(strings.TrimPrefix("["+strings.TrimSpace(b.label)+"] exporting to image", "[] "))
	img, err := b.image(target, true)
	if err != nil {
		v.fail(err)
		return nil, err
	}
	if len(b.opts.Annotations) > 0 {
		img = mutate.Annotations(img, b.opts.Annotations).(v1.Image)
	}
	for _, i := range b.plan.Also {
		extra, err := b.image(b.stages[i], true)
		if err == nil && len(b.opts.Annotations) > 0 {
			extra = mutate.Annotations(extra, b.opts.Annotations).(v1.Image)
		}
		var d v1.Hash
		if err == nil {
			d, err = extra.Digest()
		}
		if err != nil {
			v.fail(err)
			return nil, err
		}
		b.extra = append(b.extra, TargetImage{Stage: b.df.Stages[i].DisplayName(), Image: extra, Digest: d})
	}
	v.done()
	return img, nil
}

// layerDirFull says once that the base layer directory cannot take more:
// the build goes on without keeping layers there.
func (b *builder) layerDirFull(err error) {
	b.layerDirWarned.Do(func() {
		b.warn("the base layer directory %s cannot keep more layers, the build goes on without keeping them: %v", b.opts.BaseLayerDir, err)
	})
}

// removeWork deletes the work directory after a failed build, unless the
// user wants to look at it.
func (b *builder) removeWork() {
	if b.opts.KeepWorkDir {
		b.keepWork()
		return
	}
	if err := b.maker.Unmount(); err != nil {
		b.warn("unmounting root filesystems: %v", err)
	}
	b.maker.Wait()
	rmtree.RemoveAll(b.work)
	b.lock.Close()
}

// keepWork leaves the work directory for a look: marked, so that later
// builds never take it for a dead build's, and unlocked.
func (b *builder) keepWork() {
	os.WriteFile(filepath.Join(b.work, workKeepName), nil, 0o600)
	b.lock.Close()
	b.opts.Logger.Info("keeping the work directory", "dir", b.work)
}

// removeRoots deletes the stages' root filesystems; the layers stay.
func (b *builder) removeRoots() {
	if b.work == "" {
		return
	}
	// In the background: the image is ready and can be pushed meanwhile.
	for _, d := range []string{"roots", "tmp"} {
		if err := b.maker.Discard(filepath.Join(b.work, d)); err != nil {
			b.warn("removing root filesystems: %v", err)
		}
	}
}

func (b *builder) warnUnusedArgs() {
	var unused []string
	for k := range b.opts.BuildArgs {
		if !b.used[k] && !dockerfile.IsProxyArg(k) && !isPlatformArg(k) && k != "SOURCE_DATE_EPOCH" {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		b.warn("One or more build-args %v were not consumed", unused)
	}
}

func isPlatformArg(k string) bool {
	_, ok := dockerfile.PlatformArgs(dockerfile.Platform{}, dockerfile.Platform{}, "", nil).Get(k)
	return ok
}

func argKeys(step *dockerfile.Step) []string {
	ins, err := step.Expand(nil)
	if err != nil {
		return nil
	}
	a, ok := ins.(*dockerfile.Arg)
	if !ok {
		return nil
	}
	var keys []string
	for _, d := range a.Args {
		keys = append(keys, d.Key)
	}
	return keys
}

func toDFPlatform(p v1.Platform) dockerfile.Platform {
	return dockerfile.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// warn is the library's one channel for warnings: the progress output
// (as BuildKit's "[Warning]" lines) when there is one, else the logger.
func (b *builder) warn(format string, args ...any) {
	if b.share != nil && !b.share.firstWarning(fmt.Sprintf(format, args...)) {
		return // another platform's build said it
	}
	if b.prog.active() {
		b.prog.warn(format, args...)
		return
	}
	b.opts.Logger.Warn(fmt.Sprintf(format, args...))
}

// errInsecure is RUN --security=insecure in a build not allowed it.
var errInsecure = errors.New("RUN --security=insecure is not allowed: the build was not granted the entitlement security.insecure")

// devicesError is RUN --device: no step is ever given a device (BuildKit
// gives CDI devices to builds granted the entitlement device).
func devicesError(names []string) error {
	return fmt.Errorf("RUN --device=%s: devices are not supported: this builder gives no step a device", strings.Join(names, ","))
}

// errCycle reports a stage that needs itself.
var errCycle = errors.New("the stages depend on each other in a cycle")
