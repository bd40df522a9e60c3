package push

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/buildcrew/builder/pkg/registry"
)

// earlyUploads is how many layers go up at once while the build runs.
const earlyUploads = 3

// earlyMinSize is the smallest layer uploaded early. Sending a small
// layer takes a few round trips whenever it happens, and doing it while
// the next step runs slowed each RUN of a build of small steps by 12-15
// ms here (the client, and a registry on the same machine, compete for
// the cores); the time an early upload saves grows with the layer.
const earlyMinSize = 1 << 20

// Uploader sends an image's layers to its destinations' repositories as
// the build writes them, while the next steps run, so that Publish finds
// them there and uploads only what is left and the manifest. A failed
// early upload is dropped: Publish uploads the layer again, with retries.
// Layers go up without any manifest: a build that fails leaves blobs no
// tag points to, which registries collect.
type Uploader struct {
	registry registry.Options
	repos    []name.Repository
	sem      chan struct{}
	stop     chan struct{} // closed by Stop
	stopOnce sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	sent     int
	// minSize is the smallest layer sent early (earlyMinSize).
	minSize int64
}

// NewUploader prepares early uploads to the destinations in opts; with
// NoPush or no destination, Add does nothing.
func NewUploader(opts Options) (*Uploader, error) {
	refs, err := parseRefs(opts)
	if err != nil {
		return nil, err
	}
	u := &Uploader{registry: opts.Registry, sem: make(chan struct{}, earlyUploads), stop: make(chan struct{}), minSize: earlyMinSize}
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
// once; the uploads end with ctx or Stop. Layers under a MiB are left for
// Publish.
func (u *Uploader) Add(ctx context.Context, l v1.Layer) {
	if size, err := l.Size(); err != nil || size < u.minSize {
		return
	}
	for _, repo := range u.repos {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				select {
				case <-u.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			select {
			case u.sem <- struct{}{}:
				defer func() { <-u.sem }()
			case <-ctx.Done():
				return
			}
			if remote.WriteLayer(repo, l, u.registry.Remote(ctx, nil)...) == nil {
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
	u.stopOnce.Do(func() { close(u.stop) })
	u.wg.Wait()
}
