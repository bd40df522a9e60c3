package layers

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Reading ahead: a layer of many small files costs system calls (lstat,
// the attribute list, open, read, close), not bytes, and one goroutine
// issuing them in turn leaves the other cores idle. Workers prepare the
// items ahead of the writer, which still writes them in order.
const (
	// aheadWorkers prepare items at once.
	aheadWorkers = 8
	// aheadWindow is how many items may be prepared and not yet written.
	aheadWindow = 64
	// aheadSmall is the largest file read whole ahead, into a buffer of
	// the pool: at most aheadWindow+aheadWorkers of them are held (2.3
	// MiB); bigger files are read by the writer as it writes them.
	aheadSmall = 32 << 10
)

// aheadBuffers are the buffers small files are read into, reused: a
// fresh one per file left the garbage collector behind (20 MB more peak
// RSS on the bigcopy workload).
var aheadBuffers = sync.Pool{New: func() any { b := make([]byte, aheadSmall); return &b }}

// prepared is an item's metadata and, for a small regular file, its
// content (in buf, a buffer of aheadBuffers).
type prepared struct {
	fi   *fileInfo
	err  error
	data []byte
	buf  *[]byte
}

// release gives the buffer back.
func (p *prepared) release() {
	if p.buf != nil {
		aheadBuffers.Put(p.buf)
		p.buf, p.data = nil, nil
	}
}

type readAhead struct {
	items []item
	res   []prepared
	ready []chan struct{}
	slots chan struct{}
	next  atomic.Int64
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

func (lw *layerWriter) readAhead(ctx context.Context, items []item) *readAhead {
	ra := &readAhead{items: items, res: make([]prepared, len(items)), ready: make([]chan struct{}, len(items)),
		slots: make(chan struct{}, aheadWindow), quit: make(chan struct{})}
	for i := range ra.ready {
		ra.ready[i] = make(chan struct{})
	}
	for range min(aheadWorkers, len(items)) {
		ra.wg.Go(func() {
			for {
				select {
				case ra.slots <- struct{}{}:
				case <-ra.quit:
					return
				case <-ctx.Done():
					return
				}
				i := int(ra.next.Add(1) - 1)
				if i >= len(items) {
					<-ra.slots
					return
				}
				ra.res[i] = lw.prepare(items[i].Entry)
				close(ra.ready[i])
			}
		})
	}
	return ra
}

// wait returns item i once it is prepared, and frees its slot.
func (ra *readAhead) wait(ctx context.Context, i int) (prepared, error) {
	select {
	case <-ra.ready[i]:
	case <-ctx.Done():
		return prepared{}, ctx.Err()
	}
	p := ra.res[i]
	ra.res[i] = prepared{}
	<-ra.slots
	return p, nil
}

// stop ends the workers.
func (ra *readAhead) stop() {
	ra.once.Do(func() { close(ra.quit) })
	ra.wg.Wait()
}

// prepare reads what writing e needs from the root.
func (lw *layerWriter) prepare(e Entry) prepared {
	if e.Kind == Deleted {
		return prepared{}
	}
	full := filepath.Join(lw.root, filepath.FromSlash(e.Path))
	fi, err := lstat(full)
	if err != nil {
		return prepared{err: err}
	}
	p := prepared{fi: fi}
	if fi.st.Mode&unix.S_IFMT == unix.S_IFREG && fi.st.Size > 0 && fi.st.Size <= aheadSmall {
		p.buf = aheadBuffers.Get().(*[]byte)
		if p.data = readSmall(full, (*p.buf)[:fi.st.Size]); p.data == nil {
			p.release()
		}
	}
	return p
}

// readSmall fills data with a file's content, or returns nil (the writer
// reads it again, and reports what went wrong).
func readSmall(full string, data []byte) []byte {
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	if _, err := io.ReadFull(fdReader(fd), data); err != nil {
		return nil
	}
	return data
}
