package main

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/buildcrew/builder/pkg/build"
)

// ttyBuild makes an in-memory registry holding a base of two 1 MiB
// layers and a context that copies a file onto it; it returns the
// context and the registry's host.
func ttyBuild(t *testing.T) (ctxDir, host string) {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	host = strings.TrimPrefix(s.URL, "http://")
	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/base:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	ctxDir = t.TempDir()
	for n, body := range map[string]string{"Dockerfile": "FROM " + host + "/base:1\nCOPY a.txt /a.txt\n", "a.txt": "a\n"} {
		if err := os.WriteFile(filepath.Join(ctxDir, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ctxDir, host
}

// screen is what a terminal shows after out: its lines, with mpb's
// cursor-up-and-erase sequences applied.
func screen(out string) []string {
	var lines []string
	esc := regexp.MustCompile(`^\x1b\[(\d+)A\x1b\[J`)
	var cur strings.Builder
	for i := 0; i < len(out); i++ {
		if m := esc.FindStringSubmatch(out[i:]); m != nil {
			n, _ := strconv.Atoi(m[1])
			lines = lines[:max(0, len(lines)-n)]
			i += len(m[0]) - 1
			continue
		}
		if out[i] == '\n' {
			lines = append(lines, strings.TrimRight(cur.String(), " \r"))
			cur.Reset()
			continue
		}
		cur.WriteByte(out[i])
	}
	return lines
}

// checkTTYOutput checks what the tty mode drew: rows redrawn in place
// (the cursor moved), and what is left on the terminal at the end is a
// line per finished step in order, the base's bytes counted on its own
// line, and the push's bytes; no running row is left behind.
func checkTTYOutput(t *testing.T, out string) {
	t.Helper()
	if !strings.Contains(out, "\x1b[") {
		t.Errorf("no cursor movement: not drawn live:\n%q", out)
	}
	lines := screen(out)
	want := []*regexp.Regexp{
		regexp.MustCompile(`^#\d+ \[internal\] load metadata for .*/base:1 DONE \d+\.\ds$`),
		regexp.MustCompile(`^#\d+ \[internal\] \w+ the root filesystem \(2 layers\) DONE \d+\.\ds  2\.0 MiB$`),
		regexp.MustCompile(`^#\d+ \[2/2\] COPY a\.txt /a\.txt DONE \d+\.\ds$`),
		regexp.MustCompile(`^#\d+ exporting to image DONE \d+\.\ds$`),
		regexp.MustCompile(`^pushed in \d+\.\ds  \d+\.\d (KiB|MiB)$`),
	}
	next := 0
	for _, l := range lines {
		if next < len(want) && want[next].MatchString(l) {
			next++
		}
		if regexp.MustCompile(`^pushing \d+\.\ds |\[[=>-]|[\x{2800}-\x{28FF}]$`).MatchString(l) {
			t.Errorf("a running row is left on the screen: %q", l)
		}
	}
	if next < len(want) {
		t.Errorf("no line matching %s, in order, on the screen:\n%s", want[next], strings.Join(lines, "\n"))
	}
}

// TestTTYViewScreen gives the tty view the events of a build with a
// warning, output and a failing step: the screen keeps a line per step in
// the order they ended, the failure block with the step's last output,
// and nothing that was running.
func TestTTYViewScreen(t *testing.T) {
	var out bytes.Buffer
	v := newTTYView(&out)
	v.event(build.Event{Kind: build.EventStart, Vertex: 1, Name: "[internal] unpacking the root filesystem (1 layer)", Total: 3 << 20})
	v.event(build.Event{Kind: build.EventStart, Vertex: 2, Name: "[1/2] RUN make"})
	v.event(build.Event{Kind: build.EventProgress, Vertex: 1, Current: 1 << 20, Total: 3 << 20})
	time.Sleep(150 * time.Millisecond) // drawn running
	v.event(build.Event{Kind: build.EventWarning, Message: "something to know"})
	v.event(build.Event{Kind: build.EventDone, Vertex: 1, Seconds: 0.5})
	v.event(build.Event{Kind: build.EventLog, Vertex: 2, Message: "compiling"})
	v.event(build.Event{Kind: build.EventStart, Vertex: 3, Name: "[2/2] COPY a /a"})
	v.event(build.Event{Kind: build.EventCached, Vertex: 3})
	time.Sleep(150 * time.Millisecond)
	v.event(build.Event{Kind: build.EventLog, Vertex: 2, Message: "make: *** [all] Error 2"})
	v.event(build.Event{Kind: build.EventError, Vertex: 2, Error: "exit status 2", Seconds: 1.25})
	v.close()
	got := screen(out.String())
	want := []string{
		"[Warning] something to know",
		"#1 [internal] unpacking the root filesystem (1 layer) DONE 0.5s  3.0 MiB",
		"#3 [2/2] COPY a /a CACHED",
		"#2 [1/2] RUN make ERROR: exit status 2",
		"------",
		" > [1/2] RUN make:",
		"compiling",
		"make: *** [all] Error 2",
		"------",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("screen (-want +got):\n%s\nraw: %q", diff, out.String())
	}
}

// TestProgressTTY: --progress=tty draws the build live with byte bars
// for the base's layers and the push, and the image is pushed.
func TestProgressTTY(t *testing.T) {
	ctxDir, host := ttyBuild(t)
	out, stderr, err := execute(t, "build", ctxDir, "--progress=tty", "-t", host+"/app:1", "--work-dir", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	checkTTYOutput(t, stderr)
	if !strings.HasPrefix(out, host+"/app@sha256:") {
		t.Errorf("stdout = %q, want the pushed name", out)
	}
	ref, _ := name.ParseReference(host + "/app:1")
	if _, err := remote.Image(ref); err != nil {
		t.Errorf("not pushed: %v", err)
	}
}

// TestProgressAutoOnTerminal runs the CLI on a real pseudo-terminal
// (script(1)): auto picks the tty mode there, and plain where stderr is
// not a terminal.
func TestProgressAutoOnTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) (util-linux) is not installed: no pseudo-terminal to test on")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctxDir, host := ttyBuild(t)
	args := []string{"build", ctxDir, "-t", host + "/app:1", "--work-dir", t.TempDir()}
	quoted := "'" + self + "'"
	for _, a := range args {
		quoted += " '" + a + "'"
	}
	typescript := filepath.Join(t.TempDir(), "typescript")
	cmd := exec.Command("script", "-qec", quoted, typescript)
	cmd.Env = append(os.Environ(), "BUILDER_TEST_RUN_MAIN=1", "TERM=xterm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	drawn, err := os.ReadFile(typescript)
	if err != nil {
		t.Fatal(err)
	}
	checkTTYOutput(t, string(drawn))

	// Not a terminal: plain.
	cmd = exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "BUILDER_TEST_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(string(out), "\x1b[") || !regexp.MustCompile(`(?m)^#\d+ DONE`).Match(out) {
		t.Errorf("not the plain progress off a terminal:\n%s", out)
	}
}

// TestMain lets the test binary be the CLI, for tests that run it as a
// process (on a pseudo-terminal).
func TestMain(m *testing.M) {
	if os.Getenv("BUILDER_TEST_RUN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}
