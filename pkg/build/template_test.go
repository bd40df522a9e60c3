package build

import (
	"bytes"
	"log/slog"
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
