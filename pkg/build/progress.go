package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress prints BuildKit's plain progress format:
//
//	#5 [build 2/3] RUN make
//	#5 0.062 compiling...
//	#5 DONE 1.3s
//
// A nil writer prints nothing.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	events func(Event) // nil: no events
	n      int
}

// emit sends e to the events, in order with the text.
func (p *progress) emit(e Event) {
	if p.events == nil {
		return
	}
	e.Time = time.Now().UTC()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events(e)
}

// active tells whether anyone hears the progress.
func (p *progress) active() bool { return p.w != nil || p.events != nil }

// tailLines is how many output lines a failure block repeats.
const tailLines = 10

// vertex is one numbered step of the progress output. It is an io.Writer
// for the step's output.
type vertex struct {
	p       *progress
	id      int
	name    string
	start   time.Time
	mu      sync.Mutex
	partial []byte
	tail    []string
	// Byte progress (see counter); total is set once, at the start.
	total, current int64
	lastBytes      time.Time
}

func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// warn prints a warning line outside any step.
func (p *progress) warn(format string, args ...any) {
	p.printf("[Warning] "+format+"\n", args...)
	p.emit(Event{Kind: EventWarning, Message: fmt.Sprintf(format, args...)})
}

func (p *progress) vertex(name string) *vertex { return p.byteVertex(name, 0) }

// byteVertex starts a step whose work is total bytes (0: not counted in
// bytes), told as it goes through the function counter returns.
func (p *progress) byteVertex(name string, total int64) *vertex {
	p.mu.Lock()
	p.n++
	v := &vertex{p: p, id: p.n, name: name, start: time.Now(), total: total}
	p.mu.Unlock()
	p.printf("#%d %s\n", v.id, name)
	p.emit(Event{Kind: EventStart, Vertex: v.id, Name: name, Total: total})
	return v
}

// Write prints every complete line with the step number and the seconds
// since the step started.
func (v *vertex) Write(b []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.partial = append(v.partial, b...)
	for {
		i := bytes.IndexByte(v.partial, '\n')
		if i < 0 {
			break
		}
		v.line(string(v.partial[:i]))
		v.partial = v.partial[i+1:]
	}
	return len(b), nil
}

func (v *vertex) line(s string) {
	s = strings.TrimSuffix(s, "\r")
	v.tail = append(v.tail, s)
	if len(v.tail) > tailLines {
		v.tail = v.tail[1:]
	}
	v.p.printf("#%d %.3f %s\n", v.id, time.Since(v.start).Seconds(), s)
	v.p.emit(Event{Kind: EventLog, Vertex: v.id, Name: v.name, Message: s})
}

func (v *vertex) flush() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.partial) > 0 {
		v.line(string(v.partial))
		v.partial = nil
	}
}

// counter returns a function that adds to the step's byte progress, for
// events (the plain text has no bars).
func (v *vertex) counter() func(n int64) {
	if v.p.events == nil || v.total == 0 {
		return func(int64) {}
	}
	return func(n int64) {
		v.mu.Lock()
		v.current += n
		cur, due := v.current, time.Since(v.lastBytes) >= bytesEvery
		if due {
			v.lastBytes = time.Now()
		}
		v.mu.Unlock()
		if due {
			v.p.emit(Event{Kind: EventProgress, Vertex: v.id, Name: v.name, Current: cur, Total: v.total})
		}
	}
}

// bytesEvery is how often a step's byte progress is told at most.
const bytesEvery = 100 * time.Millisecond

// lastBytesEvent tells the final count, if the step counts bytes.
func (v *vertex) lastBytesEvent() {
	v.mu.Lock()
	cur := v.current
	v.mu.Unlock()
	if v.total > 0 {
		v.p.emit(Event{Kind: EventProgress, Vertex: v.id, Name: v.name, Current: cur, Total: v.total})
	}
}

func (v *vertex) done() {
	v.flush()
	v.lastBytesEvent()
	took := time.Since(v.start).Seconds()
	v.p.printf("#%d DONE %.1fs\n", v.id, took)
	v.p.emit(Event{Kind: EventDone, Vertex: v.id, Name: v.name, Seconds: took})
}

// fail ends the step with ERROR and a block that names it and repeats its
// last output lines, as BuildKit does.
func (v *vertex) fail(err error) {
	v.flush()
	v.mu.Lock()
	tail := append([]string(nil), v.tail...)
	v.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "#%d ERROR: %v\n------\n > %s:\n", v.id, err, v.name)
	for _, l := range tail {
		fmt.Fprintf(&b, "%s\n", l)
	}
	b.WriteString("------\n")
	v.p.printf("%s", b.String())
	v.p.emit(Event{Kind: EventError, Vertex: v.id, Name: v.name, Error: err.Error(), Seconds: time.Since(v.start).Seconds()})
}

// canceled ends a step the build's cancellation stopped, as BuildKit
// prints it.
func (v *vertex) canceled() {
	v.flush()
	took := time.Since(v.start).Seconds()
	v.p.printf("#%d CANCELED\n", v.id)
	v.p.emit(Event{Kind: EventCanceled, Vertex: v.id, Name: v.name, Seconds: took})
}

// cached ends a step whose result came from the cache.
func (v *vertex) cached() {
	v.p.printf("#%d CACHED\n", v.id)
	v.p.emit(Event{Kind: EventCached, Vertex: v.id, Name: v.name})
}
