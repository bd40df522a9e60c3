package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/cache"
)

// TestKeptLayersStayUnchanged: stage roots stacked from kept layers share
// their files' inodes, so no write path of a build may write into a file
// in place. Every one is tried on such a root: COPY over a base file,
// COPY --chmod and --chown over base files, WORKDIR on a base directory,
// RUN appending to, chmod-ing, chown-ing, touching, hard-linking and
// deleting base files (on an overlay), a cache hit unpacked into the live
// root before a RUN, and a stage built FROM another (cloned). Then every
// kept layer directory must hold exactly what it held before: contents,
// modes, owners, times, link counts of 1 beyond the store's own.
func TestKeptLayersStayUnchanged(t *testing.T) {
	needRoot(t)
	base := busybox(t, file{name: "etc/motd", body: "base motd\n"}, file{name: "etc/conf", body: "base conf\n"},
		file{name: "srv/"}, file{name: "srv/data", body: "base data\n", mode: 0o640})
	kept := t.TempDir()
	warm := "FROM " + base + "\nRUN true\n"
	var log bytes.Buffer
	mustBuildIn(t, warm, map[string]string{}, amd, func(o *Options) { o.BaseLayerDir = kept }, debugTo(&log))
	if !strings.Contains(log.String(), "overlay=true") {
		t.Skip("no overlayfs here: no layers are kept unpacked")
	}
	before := treeSums(t, filepath.Join(kept, "unpacked"))
	if len(before) < 10 {
		t.Fatalf("the kept layer store holds %d paths", len(before))
	}

	df := "FROM " + base + ` AS first
COPY motd /etc/motd
COPY --chmod=600 conf /etc/conf
COPY --chown=65534:65534 data /srv/data
WORKDIR /srv
RUN echo appended >> /etc/passwd && chmod 4700 /bin/busybox && chmod 755 /bin/busybox && touch /etc/group \
 && ln /srv/data /srv/data-link && rm /etc/motd && chown 1:1 /srv/data-link
ARG LATE=1
RUN echo "$LATE" >> /etc/group
FROM first
RUN echo from-first >> /etc/passwd && chmod 600 /etc/group
`
	dir := t.TempDir()
	for name, body := range map[string]string{"Dockerfile": df, "motd": "new motd\n", "conf": "new conf\n", "data": "new data\n"} {
		write(t, dir, name, body)
	}
	store := &cache.Layout{Dir: t.TempDir()}
	build := func(late string) (map[string]entry, string) {
		var log bytes.Buffer
		opts := Options{ContextDir: dir, WorkDir: t.TempDir(), Platform: "linux/amd64", BaseLayerDir: kept, Cache: store,
			BuildArgs: map[string]string{"LATE": late}}
		debugTo(&log)(&opts)
		res, err := Build(context.Background(), opts)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		defer res.Close()
		return flatten(t, res.Image), log.String()
	}
	fsys, _ := build("1")
	if got := fsys["etc/passwd"].Body; !strings.HasSuffix(got, "appended\nfrom-first\n") || fsys["srv/data"].Body != "new data\n" {
		t.Errorf("etc/passwd = %q, srv/data = %q", got, fsys["srv/data"].Body)
	}
	// Again with the last ARG changed: the steps before it are cache hits,
	// unpacked into the live root the RUN after it needs.
	fsys, log2 := build("2")
	if strings.Count(log2, "cached=true") < 5 || !strings.HasSuffix(fsys["etc/group"].Body, "2\n") {
		t.Errorf("the second build: etc/group %q, log:\n%s", fsys["etc/group"].Body, log2)
	}

	after := treeSums(t, filepath.Join(kept, "unpacked"))
	for p, want := range before {
		if got, ok := after[p]; !ok {
			t.Errorf("%s is gone from the store", p)
		} else if got != want {
			t.Errorf("%s changed in the store:\n before %s\n after  %s", p, want, got)
		}
	}
}

func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums, err := testenv.TreeSums(dir)
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// TestKeptLayerRepaired: a kept layer whose bytes changed on disk is
// found when it is read, dropped and fetched again, with a warning; the
// build succeeds with the image it would have made.
func TestKeptLayerRepaired(t *testing.T) {
	needRoot(t)
	base := busybox(t, file{name: "etc/motd", body: "base motd\n"})
	kept := t.TempDir()
	df := "FROM " + base + "\nRUN echo ran > /ran\n"
	first := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) { o.BaseLayerDir = kept; o.Reproducible = true })
	blobs, _ := filepath.Glob(filepath.Join(kept, "sha256", "*"))
	if len(blobs) == 0 {
		t.Fatal("nothing kept")
	}
	for _, b := range blobs {
		data, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(b, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Without the unpacked copies, the next build reads the blobs.
	if err := os.RemoveAll(filepath.Join(kept, "unpacked")); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	again := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
		o.BaseLayerDir, o.Reproducible, o.Progress = kept, true, &progress
	})
	if !strings.Contains(progress.String(), "held a damaged layer") {
		t.Errorf("no warning of the repair:\n%s", progress.String())
	}
	if first.Digest != again.Digest {
		t.Errorf("the build after the repair made %s, the first %s", again.Digest, first.Digest)
	}
}
