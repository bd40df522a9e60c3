package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/push"
)

// setProgress points the build's and the push's progress at stderr in
// the --progress mode: plain (BuildKit's plain text, also what auto
// gives for now) or rawjson (one build.Event as JSON per line; the push's
// lines come as log events of a vertex named "push").
func (f *buildFlags) setProgress(bo *build.Options, po *push.Options, stderr io.Writer) error {
	switch f.progress {
	case "", "auto", "plain":
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
		return fmt.Errorf("--progress tty is not available yet: use plain or rawjson")
	default:
		return fmt.Errorf("--progress %s: use auto, plain or rawjson", f.progress)
	}
	if f.quiet {
		bo.Progress, bo.Events, po.Progress = nil, nil, nil // -q: the result's name alone, as docker build -q
	}
	return nil
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
