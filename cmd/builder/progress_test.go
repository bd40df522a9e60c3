package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildcrew/builder/pkg/build"
)

// TestProgressRawJSON: --progress=rawjson writes one build.Event per line
// on stderr, the tarball's line among them, and nothing else.
func TestProgressRawJSON(t *testing.T) {
	ctx := t.TempDir()
	for n, body := range map[string]string{"Dockerfile": "FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": "a\n"} {
		if err := os.WriteFile(filepath.Join(ctx, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tar := filepath.Join(t.TempDir(), "img.tar")
	_, stderr, err := execute(t, "build", ctx, "--progress=rawjson", "--tar-path", tar, "--no-push", "-t", "app:1", "--work-dir", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var kinds []string
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		var e build.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not an event: %q: %v", sc.Text(), err)
		}
		kinds = append(kinds, string(e.Kind)+" "+e.Name)
	}
	got := strings.Join(kinds, "; ")
	for _, want := range []string{"start [1/1] COPY a.txt /a.txt", "done [1/1] COPY a.txt /a.txt", "start exporting to image", "log push"} {
		if !strings.Contains(got, want) {
			t.Errorf("events %q lack %q", got, want)
		}
	}
	for _, bad := range []string{"fancy", "ttyy"} {
		if _, _, err := execute(t, "build", ctx, "--progress", bad, "--no-push", "--work-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "--progress") {
			t.Errorf("--progress %s: %v", bad, err)
		}
	}
}
