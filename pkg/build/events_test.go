package build

import (
	"archive/tar"
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestEvents: Options.Events hears what the plain progress prints, typed
// and in order: each step's start, its output lines and its end (done,
// cached or error), and the warnings.
func TestEvents(t *testing.T) {
	r := &scriptedRunner{scripts: map[string]func(string) error{"ok": writes("ok", "1"), "fail": func(string) error { return errFailed }}}
	var events []Event
	var plain bytes.Buffer
	_, err := buildIn(t, "FROM scratch\nCOPY f /f\nRUN ok\nRUN fail\n", map[string]string{"f": "x"}, func(o *Options) {
		o.Runner, o.Progress = r, &plain
		o.Events = func(e Event) { events = append(events, e) }
		o.BuildArgs = map[string]string{"UNUSED": "1"}
	})
	if err == nil {
		t.Fatal("the failing RUN succeeded")
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, string(e.Kind)+" "+e.Name)
		if e.Time.IsZero() {
			t.Errorf("%+v has no time", e)
		}
	}
	want := []string{"start [1/3] COPY f /f", "done [1/3] COPY f /f", "start [2/3] RUN ok", "done [2/3] RUN ok", "start [3/3] RUN fail", "error [3/3] RUN fail"}
	if !slices.Equal(kinds, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
	last := events[len(events)-1]
	if last.Vertex != 3 || !strings.Contains(last.Error, "injected failure") {
		t.Errorf("the error event: %+v", last)
	}
	if !strings.Contains(plain.String(), "#3 ERROR") {
		t.Errorf("the plain progress lost its text:\n%s", plain.String())
	}

	// Warnings, and the events alone without a plain writer.
	events = nil
	mustBuildIn(t, "FROM scratch\nCOPY f /f\n", map[string]string{"f": "x"}, func(o *Options) {
		o.Events = func(e Event) { events = append(events, e) }
		o.BuildArgs = map[string]string{"UNUSED": "1"}
	})
	var warned bool
	for _, e := range events {
		if e.Kind == EventWarning && strings.Contains(e.Message, "UNUSED") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning event for the unused build arg: %+v", events)
	}
}

var errFailed = errors.New("injected failure")

// TestEventsCountBytes: the row that makes a stage's root from a pulled
// base says in its start how many compressed bytes its layers hold, and
// its progress events count up to exactly that before it is done.
func TestEventsCountBytes(t *testing.T) {
	reg := testRegistry(t)
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB, compressed far smaller
	ls := []v1.Layer{layerOf(t, file{name: "etc/", typ: tar.TypeDir}, file{name: "etc/a", body: big}), layerOf(t, file{name: "b", body: "b"})}
	var want int64
	for _, l := range ls {
		n, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		want += n
	}
	pushImage(t, reg+"/base:1", v1.Config{}, v1.Platform{OS: "linux", Architecture: "amd64"}, ls...)
	var events []Event
	mustBuildIn(t, "FROM "+reg+"/base:1\nCOPY f /f\n", map[string]string{"f": "x"}, func(o *Options) {
		o.Events = func(e Event) { events = append(events, e) }
	})
	row := -1
	var last Event
	for _, e := range events {
		if e.Kind == EventStart && strings.Contains(e.Name, "the root filesystem (2 layers)") {
			row = e.Vertex
			if e.Total != want {
				t.Errorf("start says %d bytes, the layers hold %d", e.Total, want)
			}
		}
		if e.Vertex == row && e.Kind == EventProgress {
			if e.Total != want || e.Current > want || e.Current < last.Current {
				t.Errorf("progress %d of %d after %d (layers: %d)", e.Current, e.Total, last.Current, want)
			}
			last = e
		}
		if e.Vertex == row && e.Kind == EventDone && last.Current != want {
			t.Errorf("done after %d of %d bytes", last.Current, want)
		}
	}
	if row < 0 {
		t.Fatalf("no row made the root: %+v", events)
	}
}
