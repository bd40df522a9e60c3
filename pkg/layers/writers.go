package layers

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Small regular files are written by a few goroutines while the archive
// is read on: creating a file costs the kernel far more than its bytes,
// and it creates files in different places at the same time. A core is
// left to the decompressor: on 2 cores, 4 writers spent half as much
// kernel time again as 1 (3.1-3.5 s against 2.1-2.4 s for a Debian base)
// contending for the filesystem, for no shorter wall time.
const (
	maxWriters = 4
	smallFile  = 256 << 10 // bigger files are written in line
)

// writerCount is how many goroutines write small files: a core each,
// but the decompressor's, at least one and at most maxWriters.
func writerCount() int { return min(maxWriters, max(1, runtime.NumCPU()-1)) }

// fileWriters writes small files on goroutines of their own. Everything
// else the extractor does stays in order: before an entry could touch a
// file still being written (the same path again, a hardlink, a removal),
// it waits for the writes in flight.
type fileWriters struct {
	x       *extractor
	jobs    chan fileJob
	wg      sync.WaitGroup // files handed out and not written yet
	pending map[string]bool
	mu      sync.Mutex
	err     error
	workers sync.WaitGroup
	buffers sync.Pool // of *bytes.Buffer, for this extraction only
}

type fileJob struct {
	rel, target string
	h           *tar.Header
	data        *bytes.Buffer
}

func startWriters(x *extractor) *fileWriters {
	n := writerCount()
	w := &fileWriters{x: x, jobs: make(chan fileJob, 2*n), pending: map[string]bool{}}
	w.buffers.New = func() any { return new(bytes.Buffer) }
	for range n {
		w.workers.Add(1)
		go w.work()
	}
	return w
}

func (w *fileWriters) work() {
	defer w.workers.Done()
	for j := range w.jobs {
		if w.failed() == nil {
			if err := w.x.writeRegular(j.target, j.h, j.data); err != nil {
				w.fail(fmt.Errorf("extracting %s: %w", j.rel, err))
			}
		}
		w.buffers.Put(j.data)
		w.wg.Done()
	}
}

func (w *fileWriters) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *fileWriters) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// write hands a small regular file out, reading its contents now.
func (w *fileWriters) write(rel, target string, h *tar.Header, r io.Reader) error {
	if err := w.failed(); err != nil {
		return err
	}
	buf := w.buffers.Get().(*bytes.Buffer)
	buf.Reset() // whatever its last use left, a short read included
	if _, err := io.CopyN(buf, r, h.Size); err != nil {
		w.buffers.Put(buf)
		return fmt.Errorf("extracting %s: %w", rel, err)
	}
	w.pending[target] = true
	w.wg.Add(1)
	w.jobs <- fileJob{rel: rel, target: target, h: h, data: buf}
	return nil
}

// busy tells whether host may still be being written.
func (w *fileWriters) busy(host string) bool { return w.pending[host] }

// wait returns once every file handed out is written, with the first
// error any of them met.
func (w *fileWriters) wait() error {
	if len(w.pending) == 0 {
		return w.failed()
	}
	w.wg.Wait()
	clear(w.pending)
	return w.failed()
}

// stop waits for the writes in flight and ends the goroutines.
func (w *fileWriters) stop() error {
	err := w.wait()
	close(w.jobs)
	w.workers.Wait()
	return err
}
