package rootfs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/internal/atomicfile"
	"github.com/buildcrew/builder/pkg/cache"
)

// prefetch downloads an image's layers, all but the first, in the
// background while the layers before them are unpacked: layers have to
// be unpacked in order, but nothing stops them from arriving early. The
// first layer streams straight into the extractor. With a layer
// directory the layers are downloaded there; otherwise into the work
// directory, and deleted by close.
type prefetch struct {
	sources []v1.Layer      // what each layer is read from
	ready   []chan struct{} // closed once its download is over, done or not
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	tmp     string // "" with a base layer directory
}

func (m *Maker) prefetch(ctx context.Context, ls []v1.Layer) *prefetch {
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetch{sources: append([]v1.Layer(nil), ls...), ready: make([]chan struct{}, len(ls)), cancel: cancel}
	if m.opts.LayerDir != "" {
		for i, l := range ls {
			p.sources[i] = m.throughLayerDir(l)
		}
	} else if len(ls) > 1 {
		tmp, err := os.MkdirTemp(filepath.Join(m.opts.Work, "downloads"), "image-")
		if err == nil {
			p.tmp = tmp
		} // else every layer streams in when its turn comes
	}
	sem := make(chan struct{}, prefetchers)
	for i := range ls {
		p.ready[i] = make(chan struct{})
		if e := m.fetched(ls[i]); e != nil && (i > 0 || e.over()) {
			// Downloading since the build started: taken once it is over.
			// The first layer waits for none: it would stream straight
			// into the extractor.
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer close(p.ready[i])
				select {
				case <-e.done:
					p.sources[i] = fromEarly(e, p.sources[i])
				case <-ctx.Done():
				}
			}()
			continue
		}
		if i == 0 || (p.tmp == "" && m.opts.LayerDir == "") {
			close(p.ready[i])
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer close(p.ready[i])
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				return
			}
			p.fetch(ctx, i)
		}()
	}
	return p
}

// fetch downloads layer i. A failure is left for the layer's own turn,
// which reads it from the registry again, with retries.
func (p *prefetch) fetch(ctx context.Context, i int) {
	dest := "" // through the base layer directory
	if p.tmp != "" {
		dest = filepath.Join(p.tmp, strconv.Itoa(i))
	}
	if err := downloadLayer(ctx, p.sources[i], dest); err == nil && dest != "" {
		p.sources[i] = &downloadedLayer{Layer: p.sources[i], path: dest}
	}
}

// throughLayerDir is l read through the base layer directory: reading it
// stores it there, and a copy kept there is read instead of l.
func (m *Maker) throughLayerDir(l v1.Layer) v1.Layer {
	return cache.LayerDir{Dir: m.opts.LayerDir, Unwritable: m.opts.LayerDirFull}.Wrap(l)
}

// downloadLayer copies l's compressed bytes to dest. The registry's
// reader checks the digest at the end; only a complete, verified copy
// gets the name dest. With dest "", l is read through the base layer
// directory (see throughLayerDir), where opening it stores it whole.
func downloadLayer(ctx context.Context, l v1.Layer, dest string) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if dest == "" {
		return nil
	}
	return atomicfile.WriteFunc(dest, 0o600, func(w io.Writer) error {
		_, err := io.Copy(w, readerWithContext{ctx, rc})
		return err
	})
}

// layer returns what layer i is read from, once its download is over.
func (p *prefetch) layer(ctx context.Context, i int) (v1.Layer, error) {
	select {
	case <-p.ready[i]:
		return p.sources[i], nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// close stops the downloads still going and deletes what they wrote to
// the work directory.
func (p *prefetch) close() {
	p.cancel()
	p.wg.Wait()
	if p.tmp != "" {
		os.RemoveAll(p.tmp)
	}
}

// downloadedLayer is a registry layer whose compressed bytes are on disk.
type downloadedLayer struct {
	v1.Layer
	path string
}

func (d *downloadedLayer) Compressed() (io.ReadCloser, error) { return os.Open(d.path) }

// readerWithContext stops a copy when ctx ends.
type readerWithContext struct {
	ctx context.Context
	r   io.Reader
}

func (r readerWithContext) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
