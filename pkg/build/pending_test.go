package build

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/isolation"
)

// TestLayerWrittenMeanwhile builds the same steps with each RUN's layer
// written while the next RUN runs, and written in line (keeping the work
// directory turns the overlap off): every layer must hold the same
// entries with the same metadata and contents, and the history the same
// steps in the same order, on an unpacked root and on one mounted over
// kept layers.
func TestLayerWrittenMeanwhile(t *testing.T) {
	base := busybox(t)
	df := "FROM " + base + `
RUN mkdir -p /data/sub && i=0; while test $i -lt 300; do echo $i > /data/f$i; i=$((i+1)); done; ln -s f1 /data/link && ln /data/f2 /data/hard && echo sub > /data/sub/x
RUN rm /data/f3 && echo changed > /data/f4 && chmod 600 /data/f5 && mkdir /etc/new && echo passwd >> /etc/passwd
ENV A=1
RUN echo $A > /after-env
RUN true
RUN rm -rf /data/sub && mkdir /data/sub && echo fresh > /data/sub/only
WORKDIR /w
RUN echo last > /w/last && rm /data/f6
COPY ctx /ctx
RUN cat /ctx > /copied
`
	files := map[string]string{"ctx": "from the context"}
	for _, kept := range []bool{false, true} {
		t.Run(fmt.Sprintf("kept layers %v", kept), func(t *testing.T) {
			dir := t.TempDir()
			layerDir := func(o *Options) {
				if kept {
					o.BaseLayerDir = dir
				}
			}
			var log bytes.Buffer
			got := mustBuildIn(t, df, files, amd, layerDir, debugTo(&log))
			if kept && !strings.Contains(log.String(), `msg="mounted a root"`) {
				t.Errorf("the root was not mounted over the kept layers:\n%s", log.String())
			}
			if n := strings.Count(log.String(), "meanwhile=true"); n < 4 {
				t.Errorf("%d layers were written while the next RUN ran, want at least 4:\n%s", n, log.String())
			}
			want := mustBuildIn(t, df, files, amd, layerDir, func(o *Options) { o.KeepWorkDir = true })
			if diff := cmp.Diff(layerEntries(t, want.Image), layerEntries(t, got.Image)); diff != "" {
				t.Errorf("layers (-in line +meanwhile):\n%s", diff)
			}
			if diff := cmp.Diff(historyOf(t, want.Image), historyOf(t, got.Image)); diff != "" {
				t.Errorf("history (-in line +meanwhile):\n%s", diff)
			}
		})
	}
}

// TestLayerWrittenMeanwhileCached: with a step cache, RUN layers are
// still written while the next RUN runs, and each is stored once it is
// the stage's: a rebuild takes every step from the cache and makes the
// same image.
func TestLayerWrittenMeanwhileCached(t *testing.T) {
	base := busybox(t)
	df := "FROM " + base + `
RUN mkdir /data && echo one > /data/one
RUN echo two > /data/two && rm /data/one
RUN echo three > /three
COPY ctx /ctx
RUN cat /ctx > /copied
`
	files := map[string]string{"ctx": "from the context"}
	store := &cache.Layout{Dir: t.TempDir()}
	withCache := func(o *Options) { o.Cache = store }
	var cold, warm bytes.Buffer
	first := mustBuildIn(t, df, files, amd, withCache, debugTo(&cold))
	if n := strings.Count(cold.String(), "meanwhile=true"); n != 4 {
		t.Errorf("%d layers were written while the next step ran, want 4:\n%s", n, cold.String())
	}
	again := mustBuildIn(t, df, files, amd, withCache, debugTo(&warm))
	if n := strings.Count(warm.String(), "cached=true"); n != 5 {
		t.Errorf("%d steps taken from the cache, want all 5:\n%s", n, warm.String())
	}
	if again.Digest != first.Digest {
		t.Errorf("the rebuild from the cache made %s, the build %s", again.Digest, first.Digest)
	}
	if diff := cmp.Diff(historyOf(t, first.Image), historyOf(t, again.Image)); diff != "" {
		t.Errorf("history (-built +from the cache):\n%s", diff)
	}
}

// TestLayerWrittenMeanwhileNextRunFails: the RUN after a layer being
// written fails; the build fails with that step's error.
func TestLayerWrittenMeanwhileNextRunFails(t *testing.T) {
	base := busybox(t)
	df := "FROM " + base + "\nRUN mkdir /data && echo x > /data/x\nRUN exit 3\n"
	_, err := buildIn(t, df, map[string]string{}, amd)
	var ee *isolation.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("got %v, want the second RUN's exit status 3", err)
	}
}

// layerEntries lists each layer's entries (the base's left out) with
// their metadata and a digest of their contents, times aside: two builds
// write their files at different times.
func layerEntries(t *testing.T, img v1.Image) [][]string {
	t.Helper()
	return perEntry(t, img, 1, func(h *tar.Header, r io.Reader) string {
		sum := sha256.New()
		if _, err := io.Copy(sum, r); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s %c %o %d:%d %d %q %x", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size, h.Linkname, sum.Sum(nil)[:6])
	})
}

// historyOf is the image's history without times.
func historyOf(t *testing.T, img v1.Image) []string {
	t.Helper()
	var out []string
	for _, h := range configOf(t, img).History {
		out = append(out, fmt.Sprintf("%s empty=%v", h.CreatedBy, h.EmptyLayer))
	}
	return out
}
