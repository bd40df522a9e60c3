package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/pkg/build"
)

// ttyView draws the build live on a terminal, as BuildKit's tty mode
// does: a row per running step with its time and its last output line, a
// byte bar where a step counts bytes (a base's layers being downloaded
// and unpacked) and one for the push. A finished step's row moves up
// above the running ones as one line (DONE, CACHED, ERROR) and stays;
// warnings and the push's lines print there too.
type ttyView struct {
	p    *mpb.Progress
	mu   sync.Mutex
	rows map[int]*ttyRow
	push *ttyRow
	// keeper is an empty row for the view's whole life: mpb draws what
	// is written to it only while a bar is running, and loses lines
	// written after the last one ended.
	keeper *mpb.Bar
}

// ttyRow is one step's row, or the push's.
type ttyRow struct {
	id    int // 0: the push
	name  string
	start time.Time
	bar   *mpb.Bar
	total int64 // bytes; 0 for a step that counts none

	mu   sync.Mutex
	last string // its last output line
	tail []string
}

// pushPriority keeps the push's bar under every step's.
const pushPriority = 1 << 30

// newTTYView draws on w, as wide as the terminal says (100 columns when
// it says nothing, as a fresh pseudo-terminal does).
func newTTYView(w io.Writer) *ttyView {
	width := 100
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			width = int(ws.Col)
		}
	}
	// mpb is given the width and no terminal of its own: asked, it takes
	// a terminal of 0x0 for one with no room and draws nothing.
	p := mpb.New(mpb.WithOutput(struct{ io.Writer }{w}), mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(width),
		mpb.WithRefreshRate(100*time.Millisecond))
	keeper := p.New(0, mpb.NopStyle(), mpb.BarPriority(pushPriority+1), mpb.BarRemoveOnComplete())
	return &ttyView{p: p, rows: map[int]*ttyRow{}, keeper: keeper}
}

// addRow starts a row: a byte bar when total is known, else a spinner.
func (v *ttyView) addRow(id int, name string, total int64, priority int) *ttyRow {
	r := &ttyRow{id: id, name: name, start: time.Now(), total: total}
	// Made with a total of 0, a bar completes only when told to (end),
	// not when its count reaches the total.
	if total > 0 {
		r.bar = v.p.New(0, mpb.BarStyle(), mpb.BarPriority(priority),
			mpb.PrependDecorators(decor.Any(r.text)),
			mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), " % .1f / % .1f")))
		r.bar.SetTotal(total, false)
	} else {
		r.bar = v.p.New(0, mpb.SpinnerStyle(), mpb.BarWidth(1), mpb.BarPriority(priority),
			mpb.PrependDecorators(decor.Any(r.text)))
	}
	return r
}

// event takes one build event.
func (v *ttyView) event(e build.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.rows[e.Vertex]
	switch e.Kind {
	case build.EventStart:
		v.rows[e.Vertex] = v.addRow(e.Vertex, e.Name, e.Total, e.Vertex)
	case build.EventWarning:
		fmt.Fprintf(v.p, "[Warning] %s\n", e.Message)
	case build.EventLog:
		if r != nil {
			r.log(e.Message)
		}
	case build.EventProgress:
		if r != nil && r.total > 0 {
			r.bar.SetCurrent(e.Current)
		}
	case build.EventDone:
		v.end(r, fmt.Sprintf("DONE %.1fs", e.Seconds))
	case build.EventCached:
		v.end(r, "CACHED")
	case build.EventCanceled:
		v.end(r, "CANCELED")
	case build.EventError:
		if r == nil {
			return
		}
		r.mu.Lock()
		tail := append([]string(nil), r.tail...)
		r.mu.Unlock()
		v.end(r, "ERROR: "+e.Error)
		// The failure block, as the plain progress prints it.
		var b strings.Builder
		fmt.Fprintf(&b, "------\n > %s:\n", r.name)
		for _, l := range tail {
			fmt.Fprintf(&b, "%s\n", l)
		}
		b.WriteString("------\n")
		io.WriteString(v.p, b.String())
	}
}

// end finishes r's row with status: its line goes above the rows and
// the row goes.
func (v *ttyView) end(r *ttyRow, status string) {
	if r == nil {
		return
	}
	line := r.name + " " + status
	if r.id > 0 {
		line = fmt.Sprintf("#%d %s", r.id, line)
	}
	if r.total > 0 {
		line += fmt.Sprintf("  % .1f", decor.SizeB1024(r.total))
	}
	fmt.Fprintln(v.p, line)
	r.bar.Abort(true)
	delete(v.rows, r.id)
}

// text is the row's line: number, name, and the time and last output
// line while it runs, how it ended after.
func (r *ttyRow) text(s decor.Statistics) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	head := r.name
	if r.id > 0 {
		head = fmt.Sprintf("#%d %s", r.id, r.name)
	}
	line := fmt.Sprintf("%s %.1fs", head, time.Since(r.start).Seconds())
	if r.last != "" && r.total == 0 {
		line += "  " + r.last
	}
	return clip(line, s.AvailableWidth-2) + " "
}

func (r *ttyRow) log(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = s
	r.tail = append(r.tail, s)
	if len(r.tail) > 10 {
		r.tail = r.tail[1:]
	}
}

// pushed shows the push's bytes. ggcr's total grows as blobs are found.
func (v *ttyView) pushed(current, total int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if total <= 0 {
		return
	}
	if v.push == nil {
		v.push = v.addRow(0, "pushing", total, pushPriority)
	}
	v.push.total = total
	v.push.bar.SetTotal(total, false)
	v.push.bar.SetCurrent(current)
}

// Write prints lines above the rows (the push's lines, the log).
func (v *ttyView) Write(b []byte) (int, error) { return v.p.Write(b) }

// close ends every row still drawn and waits for the last drawing.
func (v *ttyView) close() {
	v.mu.Lock()
	for _, r := range v.rows {
		v.end(r, "CANCELED")
	}
	if v.push != nil {
		v.push.name = "pushed"
		v.end(v.push, fmt.Sprintf("in %.1fs", time.Since(v.push.start).Seconds()))
	}
	v.mu.Unlock()
	v.keeper.Abort(true)
	v.p.Wait()
}

// clip cuts s to width runes (0: no limit).
func clip(s string, width int) string {
	if width <= 0 {
		return s
	}
	rs := []rune(s)
	if len(rs) <= width {
		return s
	}
	if width <= 3 {
		return string(rs[:width])
	}
	return string(rs[:width-3]) + "..."
}
