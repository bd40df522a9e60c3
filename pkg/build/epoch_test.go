package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestSourceDateEpoch: with SOURCE_DATE_EPOCH the config and history
// carry that time, and with RewriteTimestamp two builds of one context
// (other mtimes, other work directories, minutes apart) give one digest.
func TestSourceDateEpoch(t *testing.T) {
	base := busybox(t)
	epoch := time.Unix(1_700_000_000, 0).UTC()
	df := "FROM " + base + "\nCOPY app/ /app/\nRUN echo built > /built\n"
	build := func(mtime time.Time, rewrite bool) *Result {
		t.Helper()
		dir := t.TempDir()
		if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": df, "app/main.txt": "main\n"}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"app", "app/main.txt"} {
			os.Chtimes(filepath.Join(dir, p), mtime, mtime)
		}
		return mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
			o.ContextDir, o.SourceDateEpoch, o.RewriteTimestamp = dir, &epoch, rewrite
		})
	}
	a := build(time.Now().Add(-time.Hour), true)
	b := build(time.Now().Add(time.Hour), true)
	if a.Digest != b.Digest {
		t.Errorf("two builds with SOURCE_DATE_EPOCH and rewritten timestamps: %s and %s", a.Digest, b.Digest)
	}
	cfg := configOf(t, a.Image)
	if !cfg.Created.Time.Equal(epoch) {
		t.Errorf("config created %v, want %v", cfg.Created, epoch)
	}
	for _, h := range cfg.History[len(cfg.History)-2:] {
		if !h.Created.Time.Equal(epoch) {
			t.Errorf("history %q created %v, want %v", h.CreatedBy, h.Created, epoch)
		}
	}
	fs := flatten(t, a.Image)
	for _, p := range []string{"app/main.txt", "built"} {
		if mt := fs[p].ModTime; mt.After(epoch) {
			t.Errorf("%s has mtime %v, after SOURCE_DATE_EPOCH", p, mt)
		}
	}
	if c := build(time.Now().Add(-2*time.Hour), false); c.Digest == a.Digest {
		t.Error("without RewriteTimestamp the file times stayed the same: the test proves nothing")
	}
}
