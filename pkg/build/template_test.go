package build

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStagesShareRoots builds stages on one base image and on each other,
// each changing, deleting and appending to files the others have: roots
// cloned by hard links from one unpacked tree must still end up as
// separate as unpacked ones.
func TestStagesShareRoots(t *testing.T) {
	base := busybox(t, file{name: "etc/shared", body: "base\n"}, file{name: "etc/mode", body: "m\n"})
	df := "FROM " + base + ` AS a
RUN echo a >> /etc/shared && chmod 600 /etc/mode && rm /bin/ls
FROM ` + base + ` AS b
RUN cat /etc/shared > /b-saw && stat -c %a /etc/mode >> /b-saw && test -e /bin/ls && echo ls >> /b-saw
FROM a AS c
RUN echo c >> /etc/shared && cat /etc/shared > /c-saw
FROM ` + base + `
COPY --from=a /etc/shared /from-a
COPY --from=b /b-saw /b-saw
COPY --from=c /c-saw /c-saw
RUN cat /etc/shared > /final-saw
`
	var log bytes.Buffer
	res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if !strings.Contains(log.String(), "overlay=true") {
		t.Skip("no overlayfs here: stage roots are unpacked, never cloned")
	}
	if n := strings.Count(log.String(), "cloned=true"); n != 4 {
		t.Errorf("%d stage roots cloned, want 4 (a, b and the last from the base, c from a)", n)
	}
	fs := flatten(t, res.Image)
	for p, want := range map[string]string{
		"from-a":    "base\na\n",
		"b-saw":     "base\n644\nls\n",
		"c-saw":     "base\na\nc\n",
		"final-saw": "base\n",
	} {
		if got := fs[p].Body; got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
}

// TestBaseRootKeptAcrossBuilds builds twice with a base layer directory:
// the first build unpacks the base there once, the second clones it
// without unpacking anything, and neither build's changes reach it.
func TestBaseRootKeptAcrossBuilds(t *testing.T) {
	base := busybox(t, file{name: "etc/shared", body: "base\n"})
	kept := t.TempDir()
	df := "FROM " + base + "\nRUN echo more >> /etc/shared && rm /bin/ls && cat /etc/shared > /saw\n"
	for i := range 2 {
		var log bytes.Buffer
		res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
			o.BaseLayerDir = kept
			o.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		if !strings.Contains(log.String(), "overlay=true") {
			t.Skip("no overlayfs here: stage roots are unpacked, never cloned")
		}
		if !strings.Contains(log.String(), "cloned=true") {
			t.Errorf("build %d: the stage's root was not cloned from the kept base", i+1)
		}
		if i == 1 && strings.Count(log.String(), "layers=0 cloned=true") != 1 {
			t.Errorf("build 2 unpacked layers again:\n%s", log.String())
		}
		if got := flatten(t, res.Image)["saw"].Body; got != "base\nmore\n" {
			t.Errorf("build %d: the step saw %q, want the base's file plus its own line", i+1, got)
		}
	}
	roots, err := filepath.Glob(filepath.Join(kept, "roots", "sha256-*"))
	if err != nil || len(roots) != 1 {
		t.Fatalf("kept roots: %v %v", roots, err)
	}
	if data, err := os.ReadFile(filepath.Join(roots[0], "etc/shared")); err != nil || string(data) != "base\n" {
		t.Errorf("the kept base's etc/shared: %q %v", data, err)
	}
	if _, err := os.Lstat(filepath.Join(roots[0], "bin/ls")); err != nil {
		t.Errorf("a build's rm reached the kept base: %v", err)
	}
}
