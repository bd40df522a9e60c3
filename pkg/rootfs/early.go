package rootfs

import (
	"context"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// early is a layer downloaded before its stage needs it.
type early struct {
	path string        // the compressed bytes, once done ("" with a layer directory)
	done chan struct{} // closed once the download is over, done or not
	ok   bool
}

// Fetch starts downloading layers in the background, ahead of the stage
// that will unpack them (a stage waiting for the stages it copies from):
// into the layer directory when there is one, else into the work
// directory, where Unpack takes them from. At most prefetchers download
// at once; a failure is left for the stage's own turn, which downloads
// the layer again, with retries. ctx ends the downloads still going.
func (m *Maker) Fetch(ctx context.Context, ls []v1.Layer) {
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			continue
		}
		m.earlyMu.Lock()
		if _, ok := m.early[d]; ok {
			m.earlyMu.Unlock()
			continue
		}
		e := &early{done: make(chan struct{})}
		m.early[d] = e
		m.earlyMu.Unlock()
		go func() {
			defer close(e.done)
			select {
			case m.fetching <- struct{}{}:
				defer func() { <-m.fetching }()
			case <-ctx.Done():
				return
			}
			src, dest := l, filepath.Join(m.opts.Work, "downloads", "early-"+d.Hex)
			if m.opts.LayerDir != "" {
				src, dest = m.throughLayerDir(l), ""
			}
			if err := downloadLayer(ctx, src, dest); err == nil {
				e.path, e.ok = dest, true
			}
		}()
	}
}

// over tells whether the download is over, done or not.
func (e *early) over() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// fetched returns the early download of l, if there is one.
func (m *Maker) fetched(l v1.Layer) *early {
	d, err := l.Digest()
	if err != nil {
		return nil
	}
	m.earlyMu.Lock()
	defer m.earlyMu.Unlock()
	return m.early[d]
}

// fromEarly returns what to read l from once its early download e is
// over: the downloaded file, or l itself (read through the layer
// directory, which holds it now, or again from the registry).
func fromEarly(e *early, l v1.Layer) v1.Layer {
	if e.ok && e.path != "" {
		if _, err := os.Stat(e.path); err == nil {
			return &downloadedLayer{Layer: l, path: e.path}
		}
	}
	return l
}
