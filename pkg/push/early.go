package push

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// earlyUploads is how many layers go up at once while the build runs.
const earlyUploads = 3

// Uploader sends an image's layers to its destinations' repositories as
// the build writes them, while the next steps run, so that Publish finds
// them there and uploads only what is left and the manifest. A failed
// early upload is dropped: Publish uploads the layer again, with retries.
// Layers go up without any manifest: a build that fails leaves blobs no
// tag points to, which registries collect.
type Uploader struct {
	ctx    context.Context
	cancel context.CancelFunc
	repos  []name.Repository
	opts   []remote.Option
	sem    chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	sent   int
}

// NewUploader prepares early uploads to the destinations in opts; with
// NoPush or no destination, Add does nothing.
func NewUploader(ctx context.Context, opts Options) (*Uploader, error) {
	refs, err := parseRefs(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	u := &Uploader{ctx: ctx, cancel: cancel, sem: make(chan struct{}, earlyUploads), opts: opts.Registry.Remote(ctx, nil)}
	if opts.NoPush {
		return u, nil
	}
	seen := map[string]bool{}
	for _, r := range refs {
		if repo := r.Context(); !seen[repo.String()] {
			seen[repo.String()] = true
			u.repos = append(u.repos, repo)
		}
	}
	return u, nil
}

// Add starts uploading l to every destination repository and returns at
// once.
func (u *Uploader) Add(l v1.Layer) {
	for _, repo := range u.repos {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			select {
			case u.sem <- struct{}{}:
				defer func() { <-u.sem }()
			case <-u.ctx.Done():
				return
			}
			if remote.WriteLayer(repo, l, u.opts...) == nil {
				u.mu.Lock()
				u.sent++
				u.mu.Unlock()
			}
		}()
	}
}

// Wait returns once every upload started is over, and how many layer
// uploads succeeded.
func (u *Uploader) Wait() int {
	u.wg.Wait()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sent
}

// Stop cancels the uploads still going and waits for them.
func (u *Uploader) Stop() {
	u.cancel()
	u.wg.Wait()
}
