package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestStagesShareRoots builds stages on one base image and on each other,
// each changing, deleting and appending to files the others have: roots
// cloned by hard links from one unpacked tree, or mounted over the same
// kept layers (c over a clone of a's own files), must still end up as
// separate as unpacked ones.
func TestStagesShareRoots(t *testing.T) {
	// Every directory has an entry: the layers can be mounted (see
	// TestKeptLayersImpliedDirsStacked).
	base := busybox(t, file{name: "etc/"}, file{name: "etc/shared", body: "base\n"}, file{name: "etc/mode", body: "m\n"})
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
	for _, tc := range []struct {
		name, made string
		kept       bool
	}{
		{"cloned from the unpacked base", "cloned=true", false},
		{"mounted over kept layers", "mounted a root", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			res := mustBuildIn(t, df, map[string]string{}, amd, debugTo(&log), func(o *Options) {
				if tc.kept {
					o.BaseLayerDir = t.TempDir()
				}
			})
			if !strings.Contains(log.String(), "overlay=true") {
				t.Skip("no overlayfs here: stage roots are unpacked, never cloned")
			}
			if n := strings.Count(log.String(), tc.made); n != 4 {
				t.Errorf("%d stage roots %s, want 4 (a, b and the last from the base, c from a):\n%s", n, tc.made, log.String())
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
		})
	}
}

// TestKeptLayersImpliedDirsStacked: a kept layer above the bottom one
// that only implies a directory (no entry of its own) cannot be an
// overlayfs lower layer (its directory's metadata would hide the one
// below, which unpacking keeps): the root is stacked from the layers
// instead, and the step sees the lower layer's directory mode.
func TestKeptLayersImpliedDirsStacked(t *testing.T) {
	needRoot(t)
	host := testRegistry(t)
	ref := host + "/implied:1"
	pushImage(t, ref, v1.Config{Env: []string{"PATH=/bin"}}, amd64, busyboxLayer(t),
		layerOf(t, file{name: "srv/", mode: 0o750}, file{name: "srv/a", body: "a"}),
		layerOf(t, file{name: "srv/b", body: "b"}))
	var log bytes.Buffer
	res := mustBuildIn(t, "FROM "+ref+"\nRUN stat -c %a /srv > /saw && ls /srv >> /saw\n", map[string]string{}, amd, func(o *Options) {
		o.BaseLayerDir = t.TempDir()
	}, debugTo(&log))
	if !strings.Contains(log.String(), "overlay=true") {
		t.Skip("no overlayfs here: stage roots are unpacked, never stacked")
	}
	if !strings.Contains(log.String(), "cannot mount the root's layers") || !strings.Contains(log.String(), "cloned=true") {
		t.Errorf("the root was not stacked from the kept layers:\n%s", log.String())
	}
	if got := flatten(t, res.Image)["saw"].Body; got != "750\na\nb\n" {
		t.Errorf("the step saw %q, want the first layer's mode and both files", got)
	}
}

// TestBaseRootKeptAcrossBuilds builds twice with a base layer directory:
// the first build unpacks the base there once, the second mounts it
// without unpacking anything, and neither build's changes reach it.
func TestBaseRootKeptAcrossBuilds(t *testing.T) {
	base := busybox(t, file{name: "etc/"}, file{name: "etc/shared", body: "base\n"})
	kept := t.TempDir()
	df := "FROM " + base + "\nRUN echo more >> /etc/shared && rm /bin/ls && cat /etc/shared > /saw\n"
	for i := range 2 {
		var log bytes.Buffer
		res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
			o.BaseLayerDir = kept
		}, debugTo(&log))
		if !strings.Contains(log.String(), "overlay=true") {
			t.Skip("no overlayfs here: stage roots are unpacked, never cloned")
		}
		if !strings.Contains(log.String(), "mounted a root") || !strings.Contains(log.String(), "mounted=true") {
			t.Errorf("build %d: the stage's root was not mounted over the kept base:\n%s", i+1, log.String())
		}
		if i == 1 && strings.Contains(log.String(), "unpacked a layer to keep") {
			t.Errorf("build 2 unpacked layers again:\n%s", log.String())
		}
		if got := flatten(t, res.Image)["saw"].Body; got != "base\nmore\n" {
			t.Errorf("build %d: the step saw %q, want the base's file plus its own line", i+1, got)
		}
	}
	dirs, err := filepath.Glob(filepath.Join(kept, "unpacked", "sha256-*"))
	if err != nil || len(dirs) != 2 {
		t.Fatalf("kept layers: %v %v, want the base's two", dirs, err)
	}
	var shared, ls int
	for _, d := range dirs {
		if data, err := os.ReadFile(filepath.Join(d, "etc/shared")); err == nil {
			shared++
			if string(data) != "base\n" {
				t.Errorf("the kept layer's etc/shared: %q", data)
			}
		}
		if _, err := os.Lstat(filepath.Join(d, "bin/ls")); err == nil {
			ls++
		}
	}
	if shared != 1 || ls != 1 {
		t.Errorf("kept layers with etc/shared: %d, with bin/ls: %d; want 1 and 1 (a build's rm must not reach them)", shared, ls)
	}
	// Kept layers hold setuid programs and device nodes as images have
	// them: only the builder's user may reach them.
	for _, d := range []string{"unpacked", "sha256"} {
		fi, err := os.Stat(filepath.Join(kept, d))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a 0700 directory", d, fi.Mode(), err)
		}
	}
}

// TestKeptLayerStoreIsClosed: a store an older builder left open to every
// user is closed on its next use.
func TestKeptLayerStoreIsClosed(t *testing.T) {
	base := busybox(t)
	kept := t.TempDir()
	if err := os.MkdirAll(filepath.Join(kept, "unpacked"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	mustBuildIn(t, "FROM "+base+"\nRUN true\n", map[string]string{}, amd, func(o *Options) { o.BaseLayerDir = kept }, debugTo(&log))
	if !strings.Contains(log.String(), "overlay=true") {
		t.Skip("no overlayfs here: no layers are kept unpacked")
	}
	if fi, err := os.Stat(filepath.Join(kept, "unpacked")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("unpacked: %v, %v; want 0700", fi.Mode(), err)
	}
}

// TestKeptLayersSharedBetweenImages builds on one image, then on another
// with the same first layers and one more: the second build unpacks only
// the layer the first did not have, and its stage sees every layer's
// files, whiteouts applied.
func TestKeptLayersSharedBetweenImages(t *testing.T) {
	needRoot(t)
	host := testRegistry(t)
	bb := busyboxLayer(t)
	conf := layerOf(t, file{name: "etc/"}, file{name: "etc/app.conf", body: "v1\n"}, file{name: "etc/old", body: "old"})
	pushImage(t, host+"/first:1", v1.Config{Env: []string{"PATH=/bin"}}, amd64, bb, conf)
	pushImage(t, host+"/second:1", v1.Config{Env: []string{"PATH=/bin"}}, amd64, bb, conf,
		layerOf(t, file{name: "etc/"}, file{name: "etc/.wh.old"}, file{name: "etc/app.conf", body: "v2\n"}))
	kept := t.TempDir()
	for i, ref := range []string{host + "/first:1", host + "/second:1"} {
		var log bytes.Buffer
		res := mustBuildIn(t, "FROM "+ref+"\nRUN cat /etc/app.conf > /saw && ls /etc >> /saw\n", map[string]string{}, amd, func(o *Options) {
			o.BaseLayerDir = kept
		}, debugTo(&log))
		if !strings.Contains(log.String(), "overlay=true") {
			t.Skip("no overlayfs here: stage roots are unpacked, never stacked")
		}
		want := []int{2, 1}[i]
		if n := strings.Count(log.String(), "unpacked a layer to keep"); n != want {
			t.Errorf("build %d unpacked %d layers, want %d:\n%s", i+1, n, want, log.String())
		}
		// hosts and resolv.conf are the step's own (see isolation).
		wantSaw := []string{"v1\napp.conf\ngroup\nhosts\nold\npasswd\nresolv.conf\n", "v2\napp.conf\ngroup\nhosts\npasswd\nresolv.conf\n"}[i]
		if got := flatten(t, res.Image)["saw"].Body; got != wantSaw {
			t.Errorf("build %d: the step saw %q, want %q", i+1, got, wantSaw)
		}
	}
}

// TestKeptLayersFallBack builds on an image whose second layer hard-links
// a file of the first: that layer cannot be unpacked alone, so the image
// is unpacked whole and the build goes on.
func TestKeptLayersFallBack(t *testing.T) {
	needRoot(t)
	host := testRegistry(t)
	ref := host + "/linked:1"
	pushImage(t, ref, v1.Config{Env: []string{"PATH=/bin"}}, amd64, busyboxLayer(t),
		layerOf(t, file{name: "etc/"}, file{name: "etc/tool", body: "tool\n"}),
		layerOf(t, file{name: "etc/"}, file{name: "etc/tool-link", typ: tar.TypeLink, link: "etc/tool"}))
	var log bytes.Buffer
	res := mustBuildIn(t, "FROM "+ref+"\nRUN cat /etc/tool-link > /saw\n", map[string]string{}, amd, func(o *Options) {
		o.BaseLayerDir = t.TempDir()
	}, debugTo(&log))
	if !strings.Contains(log.String(), "overlay=true") {
		t.Skip("no overlayfs here: stage roots are unpacked, never stacked")
	}
	if !strings.Contains(log.String(), "cannot keep the image's layers apart") {
		t.Errorf("the image's layers were kept apart:\n%s", log.String())
	}
	if got := flatten(t, res.Image)["saw"].Body; got != "tool\n" {
		t.Errorf("the step saw %q", got)
	}
}

// TestOwnImageMountedAsBase: the layers this builder writes (RUN, COPY,
// WORKDIR) carry their parent directories, as BuildKit's do, so an image
// it built can be a later build's base mounted over its kept layers.
func TestOwnImageMountedAsBase(t *testing.T) {
	needRoot(t)
	host := testRegistry(t)
	base := host + "/bottom:1"
	pushImage(t, base, v1.Config{Env: []string{"PATH=/bin"}}, amd64, busyboxLayer(t))
	// The steps after the first write below directories a layer before
	// made, and leave those directories' metadata alone.
	res := mustBuildIn(t, "FROM "+base+"\nRUN mkdir -p /opt/app/data /srv && chmod 700 /opt/app\nRUN echo a > /opt/app/data/a\n"+
		"COPY f /opt/app/data/f\nWORKDIR /opt/app/data/www\n", map[string]string{"f": "f\n"}, amd)
	ref, err := name.ParseReference(host + "/ours:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, res.Image); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res = mustBuildIn(t, "FROM "+ref.String()+"\nRUN cat /opt/app/data/a /opt/app/data/f > /saw && stat -c %a /opt/app >> /saw && ls -d /opt/app/data/www >> /saw\n",
		map[string]string{}, amd, func(o *Options) { o.BaseLayerDir = t.TempDir() }, debugTo(&log))
	if !strings.Contains(log.String(), "overlay=true") {
		t.Skip("no overlayfs here: stage roots are unpacked, never mounted")
	}
	if !strings.Contains(log.String(), "mounted a root") {
		t.Errorf("the image this builder made was not mounted as a base:\n%s", log.String())
	}
	if got := flatten(t, res.Image)["saw"].Body; got != "a\nf\n700\n/opt/app/data/www\n" {
		t.Errorf("the step saw %q", got)
	}
}
