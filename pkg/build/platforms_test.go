package build

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/isolation"
)

// envRunner runs RUN commands as Go functions that see the step's
// environment, and records each command with the TARGETARCH it saw.
type envRunner struct {
	mu  sync.Mutex
	ran []string
}

func (r *envRunner) Run(ctx context.Context, spec *isolation.Spec) error {
	cmd := spec.Args[len(spec.Args)-1]
	env := map[string]string{}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	r.mu.Lock()
	r.ran = append(r.ran, strings.TrimSpace(cmd+" "+env["TARGETARCH"]))
	r.mu.Unlock()
	switch cmd {
	case "download":
		return os.WriteFile(filepath.Join(spec.Root, "deps"), []byte("deps\n"), 0o644)
	case "compile":
		if err := os.MkdirAll(filepath.Join(spec.Root, "out"), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(spec.Root, "out/app"), []byte("app for "+env["TARGETOS"]+"/"+env["TARGETARCH"]+"\n"), 0o755)
	case "fail-on-arm64":
		if env["TARGETARCH"] == "arm64" {
			return fmt.Errorf("exit status 1")
		}
		return nil
	}
	return fmt.Errorf("no script for %q", cmd)
}

var arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}

// pushPlatforms pushes an index of one image per platform, each with a
// file /plat naming it.
func pushPlatforms(t *testing.T, ref string, platforms ...v1.Platform) {
	t.Helper()
	var imgs []v1.Image
	for _, p := range platforms {
		imgs = append(imgs, pushImage(t, ref+"-"+p.Architecture, v1.Config{Env: []string{"PATH=/bin"}}, p, layerOf(t, file{name: "plat", body: p.String() + "\n"})))
	}
	pushIndex(t, ref, imgs...)
}

const crossDockerfile = `FROM --platform=$BUILDPLATFORM %[1]s AS build
RUN download
ARG TARGETOS TARGETARCH
RUN compile
FROM %[1]s
COPY --from=build /out/app /app
`

func TestMultiPlatformIndex(t *testing.T) {
	host := testRegistry(t)
	base := host + "/base:multi"
	pushPlatforms(t, base, amd64, arm64)
	r := &envRunner{}
	res := mustBuildIn(t, fmt.Sprintf(crossDockerfile, base), map[string]string{}, func(o *Options) {
		o.Runner, o.Platforms = r, []string{"linux/amd64", "linux/arm64"}
		o.Annotations = map[string]string{"org.opencontainers.image.source": "https://example.com/app"}
	})
	if res.Image != nil || res.Index == nil {
		t.Fatalf("a build for two platforms gave image %v, index %v; want an index alone", res.Image, res.Index)
	}
	if err := validate.Index(res.Index, validate.Fast); err != nil { // Fast: base layers keep their Docker media type inside, as ggcr retypes them only in the manifest
		t.Fatalf("validate.Index: %v", err)
	}
	if d, _ := res.Index.Digest(); d != res.Digest {
		t.Errorf("Digest %s, index digest %s", res.Digest, d)
	}
	m, err := res.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIImageIndex || m.Annotations["org.opencontainers.image.source"] != "https://example.com/app" {
		t.Errorf("index media type %s, annotations %v", m.MediaType, m.Annotations)
	}
	var got []string
	for i, d := range m.Manifests {
		got = append(got, d.Platform.String())
		img, err := res.Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if res.Platforms[i].Digest != d.Digest {
			t.Errorf("Platforms[%d] digest %s, index has %s", i, res.Platforms[i].Digest, d.Digest)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS+"/"+cf.Architecture != d.Platform.String() {
			t.Errorf("the %s image's config says %s/%s", d.Platform, cf.OS, cf.Architecture)
		}
		fs := flatten(t, img)
		want := map[string]string{"plat": d.Platform.String() + "\n", "app": "app for " + d.Platform.String() + "\n"}
		if diff := cmp.Diff(want, map[string]string{"plat": fs["plat"].Body, "app": fs["app"].Body}); diff != "" {
			t.Errorf("the %s image (-want +got):\n%s", d.Platform, diff)
		}
		if _, ok := fs["deps"]; ok {
			t.Errorf("the %s image holds the build stage's files", d.Platform)
		}
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) {
		t.Errorf("index platforms %v, want %v", got, want)
	}
	// The build stage is the build machine's on both platforms: its
	// first step, the same on both, ran once; the step after ARG
	// TARGETARCH once per platform.
	slices.Sort(r.ran)
	if want := []string{"compile amd64", "compile arm64", "download"}; !slices.Equal(r.ran, want) {
		t.Errorf("ran %v, want %v", r.ran, want)
	}
}

func TestMultiPlatformDockerFormat(t *testing.T) {
	host := testRegistry(t)
	base := host + "/base:multi"
	pushPlatforms(t, base, amd64, arm64)
	res := mustBuildIn(t, "FROM "+base+"\nCOPY f /f\n", map[string]string{"f": "x"}, func(o *Options) {
		o.Format, o.Platforms = Docker, []string{"linux/arm64", "linux/amd64"}
	})
	m, err := res.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.DockerManifestList || len(m.Manifests) != 2 || m.Manifests[0].Platform.Architecture != "arm64" {
		t.Fatalf("index %s with %d manifests, first %v", m.MediaType, len(m.Manifests), m.Manifests[0].Platform)
	}
	for _, d := range m.Manifests {
		if d.MediaType != types.DockerManifestSchema2 {
			t.Errorf("the %s manifest is a %s", d.Platform, d.MediaType)
		}
	}
}

func TestMultiPlatformErrors(t *testing.T) {
	host := testRegistry(t)
	base := host + "/base:multi"
	pushPlatforms(t, base, amd64, arm64)
	tests := []struct {
		name       string
		dockerfile string
		mod        func(*Options)
		want       []string
	}{
		{
			name: "a base without the platform", dockerfile: "FROM " + base + "\nRUN download\n",
			mod:  func(o *Options) { o.Platforms = []string{"linux/amd64", "linux/s390x"} },
			want: []string{"building for linux/s390x", "Dockerfile:1", "pulling " + base, "no image for linux/s390x", "only for linux/amd64, linux/arm64"},
		},
		{
			name: "a step fails on one platform", dockerfile: "FROM " + base + "\nARG TARGETARCH\nRUN fail-on-arm64\n",
			mod:  func(o *Options) { o.Platforms = []string{"linux/amd64", "linux/arm64"} },
			want: []string{"building for linux/arm64", "Dockerfile:3", "RUN fail-on-arm64"},
		},
		{
			name: "both fields", dockerfile: "FROM scratch\n",
			mod:  func(o *Options) { o.Platform, o.Platforms = "linux/amd64", []string{"linux/arm64", "linux/amd64"} },
			want: []string{"give one or the other"},
		},
		{
			name: "twice", dockerfile: "FROM scratch\n",
			mod:  func(o *Options) { o.Platforms = []string{"linux/arm64", "linux/arm64"} },
			want: []string{"linux/arm64 is asked for twice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildIn(t, tt.dockerfile, map[string]string{}, func(o *Options) { o.Runner = &envRunner{}; tt.mod(o) })
			if err == nil {
				t.Fatal("the build succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestEmulationCheckedFirst: RUN for a CPU this machine cannot run
// fails before anything is pulled or made. (That a missing emulator is
// such a CPU: TestEmulation in pkg/isolation, and the integration tests
// with QEMU's handler turned off.)
func TestEmulationCheckedFirst(t *testing.T) {
	work := t.TempDir()
	dir := t.TempDir()
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": "FROM scratch AS tools\nCOPY f /f\nFROM 127.0.0.1:1/nothing:here\nRUN true\n", "f": "x"}); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: work, Platform: "linux/vax"})
	if err == nil || !strings.Contains(err.Error(), "RUN for linux/vax") || !strings.Contains(err.Error(), "Dockerfile:3") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("the work directory holds %d entries: the build started", len(entries))
	}
}

// TestMultiPlatformSharesStages: a stage that is the same on every
// platform is built once; the other platforms read its root, and its
// base is unpacked once.
func TestMultiPlatformSharesStages(t *testing.T) {
	host := testRegistry(t)
	base := host + "/base:multi"
	pushPlatforms(t, base, amd64, arm64)
	r := &envRunner{}
	var progress bytes.Buffer
	df := "FROM --platform=$BUILDPLATFORM " + base + " AS tools\nRUN download\nFROM " + base + "\nCOPY --from=tools /deps /deps\n"
	res := mustBuildIn(t, df, map[string]string{}, func(o *Options) {
		o.Runner, o.Platforms, o.Progress = r, []string{"linux/amd64", "linux/arm64"}, &progress
	})
	if !slices.Equal(r.ran, []string{"download"}) {
		t.Errorf("ran %v, want download once", r.ran)
	}
	for _, p := range res.Platforms {
		if fs := flatten(t, p.Image); fs["deps"].Body != "deps\n" || fs["plat"].Body != p.Platform.String()+"\n" {
			t.Errorf("the %s image: deps %q plat %q", p.Platform, fs["deps"].Body, fs["plat"].Body)
		}
	}
	if n := strings.Count(progress.String(), "tools internal]"); n != 1 {
		t.Errorf("the tools stage's root was made %d times, want once:\n%s", n, progress.String())
	}
}

// TestMultiPlatformSharedRoot: in one shared root (isolation none), the
// platforms build one after the other, each wiping the root before its
// stages; the work directories of the platforms built before (their
// layers) must survive, and every platform's image be whole.
func TestMultiPlatformSharedRoot(t *testing.T) {
	needRoot(t)
	host := testRegistry(t)
	base := host + "/base:multi"
	pushPlatforms(t, base, amd64, arm64)
	root := t.TempDir()
	res := mustBuildIn(t, "FROM "+base+"\nCOPY f /f\n", map[string]string{"f": "x"}, func(o *Options) {
		o.Platforms = []string{"linux/amd64", "linux/arm64"}
		o.Root, o.WorkDir = root, filepath.Join(root, "work") // the work inside the root, as in a Pod
		o.CacheMountDir = filepath.Join(root, "cache-mounts")
		o.Runner = &envRunner{}
	})
	for _, p := range res.Platforms {
		fs := flatten(t, p.Image)
		if fs["f"].Body != "x" || fs["plat"].Body != p.Platform.String()+"\n" {
			t.Errorf("the %s image: f %q plat %q", p.Platform, fs["f"].Body, fs["plat"].Body)
		}
	}
}

// TestMultiPlatformWarnsOnce: a warning every platform's build finds is
// said once, as BuildKit says it, and one only a platform's build finds
// (its base is for another platform) once too.
func TestMultiPlatformWarnsOnce(t *testing.T) {
	reg := testRegistry(t)
	pushImage(t, reg+"/arm:1", v1.Config{}, arm64, layerOf(t, file{name: "b", body: "b"}))
	var plain bytes.Buffer
	_, err := buildIn(t, "FROM scratch as a\nCOPY f /f\nFROM "+reg+"/arm:1\nCOPY --from=a /f /f\nCMD echo $NOPE\n", map[string]string{"f": "x"}, func(o *Options) {
		o.Platforms = []string{"linux/amd64", "linux/arm64"}
		o.Progress = &plain
	})
	if err != nil {
		t.Fatal(err)
	}
	for want, n := range map[string]int{
		"FromAsCasing: 'as' and 'FROM' keywords' casing do not match\n": 1,
		"JSONArgsRecommended: JSON arguments recommended for CMD":       1,
		"InvalidBaseImagePlatform:":                                     1, // only amd64's build pulls an arm64 base
	} {
		if got := strings.Count(plain.String(), want); got != n {
			t.Errorf("%q said %d times, want %d:\n%s", want, got, n, plain.String())
		}
	}
}
