package integration

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestHostileBaseImages serves each hostile archive as a layer on top of
// busybox from the test registry and builds FROM it: the build may fail,
// but nothing outside the work directory may change.
func TestHostileBaseImages(t *testing.T) {
	needs(t)
	bbRef, err := name.ParseReference(env.busybox)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := remote.Image(bbRef)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range testenv.HostileArchives() {
		if h.Setup != nil {
			continue // needs links on disk first: covered by pkg/layers
		}
		t.Run(h.Name, func(t *testing.T) {
			data := h.Tar
			layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
			if err != nil {
				t.Skipf("not even a layer: %v", err)
			}
			img, err := mutate.AppendLayers(bb, layer)
			if err != nil {
				t.Fatal(err)
			}
			ref := fmt.Sprintf("%s/hostile/base:%d", env.registry, i)
			r, _ := name.ParseReference(ref)
			if err := remote.Write(r, img); err != nil {
				t.Skipf("the registry refused it: %v", err)
			}
			base := t.TempDir()
			work := filepath.Join(base, "work")
			os.WriteFile(filepath.Join(base, "ESCAPE-TARGET"), []byte("keep me"), 0o644)
			before, _ := filepath.Glob("/tmp/builder-hostile-*")
			dir := writeContext(t, map[string]string{"Dockerfile": "FROM " + ref + "\nRUN true\n"})
			runBuilder(t, dir, nil, "--context", dir, "--no-push", "--work-dir", work)
			entries, _ := os.ReadDir(base)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if strings.Join(names, ",") != "ESCAPE-TARGET,work" {
				t.Errorf("beside the work directory: %v", names)
			}
			if data, _ := os.ReadFile(filepath.Join(base, "ESCAPE-TARGET")); string(data) != "keep me" {
				t.Error("a file beside the work directory changed")
			}
			if after, _ := filepath.Glob("/tmp/builder-hostile-*"); len(after) != len(before) {
				t.Errorf("/tmp gained %v", after)
			}
		})
	}
}

// TestRunSeesNothingOfTheBuilder checks from inside a RUN step that the
// work directory, the context and the registry credentials are out of
// sight in chroot isolation.
func TestRunSeesNothingOfTheBuilder(t *testing.T) {
	needs(t)
	dockerConfig := t.TempDir()
	os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(`{"auths":{"r.example":{"auth":"dXNlcjpodW50ZXIy"}}}`), 0o600)
	work := t.TempDir()
	dir := writeContext(t, map[string]string{"secret-in-context": "x"})
	df := fmt.Sprintf(`ARG BUSYBOX
FROM $BUSYBOX
RUN ! test -e %[1]s && ! test -e %[2]s && ! test -e %[3]s && ! env | grep -q DOCKER_CONFIG \
    && ! grep -rqs dXNlcjpodW50ZXIy /proc/*/environ /etc /root /tmp && echo clean > /clean
`, work, dir, dockerConfig)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBuilder(t, dir, []string{"DOCKER_CONFIG=" + dockerConfig}, "--context", dir, "--no-push", "--work-dir", work,
		"--build-arg", "BUSYBOX="+env.busybox)
	if r.code != 0 {
		t.Fatalf("a RUN step could see the builder's files: exit %d\n%s", r.code, tail(r.stderr, 15))
	}
}
