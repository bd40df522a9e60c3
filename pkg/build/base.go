package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/buildcrew/builder/pkg/registry"
)

// baseImage is a pulled image: its config and layers (fetched lazily).
type baseImage struct {
	ref    string
	digest v1.Hash // the platform image's manifest digest
	config *v1.ConfigFile
	// startInterval is config.Healthcheck's start interval, which
	// v1.ConfigFile drops.
	startInterval time.Duration
	layers        []v1.Layer
}

// pull fetches an image's manifest and config, resolving a multi-platform
// index to the platform. Layers are fetched only when unpacked or pushed.
// Each image is pulled once: a second caller waits for the first's
// result, failure included (unless the first's context ended), while
// other images are pulled at once.
func (b *builder) pull(ctx context.Context, ref string, platform *v1.Platform) (*baseImage, error) {
	key := ref + "|" + platform.String()
	b.pullMu.Lock()
	c, ok := b.pulled[key]
	if !ok {
		c = &pullCall{done: make(chan struct{})}
		b.pulled[key] = c
	}
	b.pullMu.Unlock()
	if ok {
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if c.err != nil && errors.Is(c.err, context.Canceled) && ctx.Err() == nil {
			return b.pull(ctx, ref, platform) // the first caller gave up
		}
		return c.img, c.err
	}
	c.img, c.err = b.pullOnce(ctx, ref, platform)
	if c.err != nil && ctx.Err() != nil {
		b.pullMu.Lock()
		delete(b.pulled, key) // for a caller whose context lives on
		b.pullMu.Unlock()
	}
	close(c.done)
	return c.img, c.err
}

// notAStage explains, after a failed pull of a bare name in a Dockerfile
// that names stages, that the name was no stage's: most often a typo of
// one, or a stage defined after its use.
func (b *builder) notAStage(ref string) string {
	if strings.ContainsAny(ref, "/:@") {
		return ""
	}
	names := b.df.StageNames()
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (no stage before it is named %q, so it was taken for an image; stages: %s)", ref, strings.Join(names, ", "))
}

// pullCall is one image's pull, done once for every stage.
type pullCall struct {
	done chan struct{} // closed once img or err is set
	img  *baseImage
	err  error
}

func (b *builder) pullOnce(ctx context.Context, ref string, platform *v1.Platform) (*baseImage, error) {
	r, err := b.opts.Registry.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	defer b.since("pull", time.Now())
	v := b.prog.vertex("[internal] load metadata for " + r.Name())
	img, err := b.fetch(ctx, r, platform)
	if err != nil {
		err = fmt.Errorf("pulling %s: %w%s", ref, err, b.notAStage(ref))
		v.fail(err)
		return nil, err
	}
	v.done()
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing the layers of %s: %w", ref, err)
	}
	if len(ls) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image %s has %d layers but its config lists %d", ref, len(ls), len(cfg.RootFS.DiffIDs))
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading the digest of %s: %w", ref, err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	bi := &baseImage{ref: ref, digest: digest, config: cfg, layers: ls, startInterval: startIntervalOf(raw)}
	b.opts.Logger.Debug("pulled image metadata", "ref", ref, "layers", len(ls))
	return bi, nil
}

// fetch reads an image's manifest from the first of its mirrors that has
// it, or from its own registry.
func (b *builder) fetch(ctx context.Context, r name.Reference, platform *v1.Platform) (v1.Image, error) {
	candidates, err := b.opts.Registry.Candidates(r)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, c := range candidates {
		var img v1.Image
		err := b.retryPull(ctx, "pulling "+c.Name(), func() (err error) {
			img, err = remote.Image(c, b.opts.Registry.Remote(ctx, platform)...)
			return err
		})
		if err == nil {
			if c != r {
				b.opts.Logger.Info("pulled from a mirror", "image", r.Name(), "mirror", c.Name())
			}
			return img, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if platform != nil && strings.Contains(err.Error(), "no child with platform") {
			err = b.missingPlatform(ctx, c, platform)
		}
		err = registry.NotFound(c, err)
		if len(candidates) > 1 {
			err = fmt.Errorf("from %s: %w", c.Context().RegistryStr(), err)
		}
		errs = append(errs, err)
	}
	if candidates[len(candidates)-1] != r {
		errs = append(errs, fmt.Errorf("no mirror has it, and %s itself was not tried (no fallback)", r.Context().RegistryStr()))
	}
	return nil, errors.Join(errs...)
}

// missingPlatform says that the index r has no image for platform, and
// which platforms it has.
func (b *builder) missingPlatform(ctx context.Context, r name.Reference, platform *v1.Platform) error {
	err := fmt.Errorf("it has no image for %s", platform)
	idx, ierr := remote.Index(r, b.opts.Registry.Remote(ctx, nil)...)
	if ierr != nil {
		return err
	}
	m, ierr := idx.IndexManifest()
	if ierr != nil {
		return err
	}
	var has []string
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS != "unknown" {
			has = append(has, d.Platform.String())
		}
	}
	return fmt.Errorf("%w, only for %s", err, strings.Join(has, ", "))
}

// retryPull runs f with the build's pull retries, warning of each retry.
func (b *builder) retryPull(ctx context.Context, what string, f func() error) error {
	notify := func(attempt int, next time.Duration, err error) {
		b.warn("%s failed, retrying in %s (%d of %d): %v", what, next, attempt, b.opts.PullRetries, err)
	}
	return registry.Retry(ctx, b.opts.PullRetries, b.opts.PullRetryWait, notify, f)
}

// externalRoot returns the unpacked root of an image that COPY --from
// reads, unpacking it once per build.
func (b *builder) externalRoot(ctx context.Context, ref string) (string, error) {
	p := b.platform
	return b.imageRoot(ctx, ref, &p)
}

// imageRoot returns an image's unpacked files, for reading or cloning
// only, unpacking them once per build and platform.
func (b *builder) imageRoot(ctx context.Context, ref string, platform *v1.Platform) (string, error) {
	img, err := b.pull(ctx, ref, platform)
	if err != nil {
		return "", err
	}
	key := ref + "|" + platform.String()
	unpack := func() (string, error) { return b.maker.ImageRoot(ctx, key, img.layers) }
	var root string
	if b.share != nil {
		root, err = b.share.imageRoot(key+"|"+img.digest.String(), unpack)
	} else {
		root, err = unpack()
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	return root, nil
}
