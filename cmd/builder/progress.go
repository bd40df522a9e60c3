package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/push"
)

// setProgress points the build's and the push's progress at stderr in
// the --progress mode: plain (BuildKit's plain text), tty (drawn live; see
// ttyView), auto (tty when stderr is a terminal, else plain) or rawjson
// (one build.Event as JSON per line; the push's lines come as log events
// of a vertex named "push"). It returns where the rest of stderr's text
// goes while the progress is drawn, and what to call once the build and
// the push are over.
func (f *buildFlags) setProgress(bo *build.Options, po *push.Options, stderr io.Writer) (io.Writer, func(), error) {
	mode := f.progress
	if mode == "" || mode == "auto" {
		mode = "plain"
		if isTerminal(stderr) && os.Getenv("TERM") != "dumb" {
			mode = "tty"
		}
	}
	switch strings.ToLower(f.verbosity) {
	case "error", "fatal", "panic":
		mode = "quiet" // only errors, as the level says
	}
	if f.quiet {
		mode = "quiet" // -q: the result's name alone, as docker build -q
	}
	switch mode {
	case "quiet":
	case "plain":
		bo.Progress, po.Progress = stderr, stderr
	case "rawjson":
		var mu sync.Mutex
		enc := json.NewEncoder(stderr)
		emit := func(e build.Event) {
			mu.Lock()
			defer mu.Unlock()
			enc.Encode(e)
		}
		bo.Events = emit
		po.Progress = lineWriter(func(line string) {
			emit(build.Event{Time: time.Now().UTC(), Kind: build.EventLog, Name: "push", Message: line})
		})
	case "tty":
		v := newTTYView(stderr)
		bo.Events, po.Progress, po.Pushed = v.event, v, v.pushed
		return v, sync.OnceFunc(v.close), nil
	default:
		return nil, nil, fmt.Errorf("--progress %s: use auto, plain, tty or rawjson", f.progress)
	}
	return stderr, func() {}, nil
}

// isTerminal tells whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// lineWriter calls line with every complete line written to it.
type lineWriter func(line string)

func (l lineWriter) Write(b []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		l(sc.Text())
	}
	return len(b), nil
}
