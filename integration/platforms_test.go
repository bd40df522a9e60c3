package integration

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/isolation"
)

var multiBase struct {
	once sync.Once
	ref  string
	err  error
}

// multiBusybox is a two-platform busybox index (this machine's and
// Debian's arm64 busybox-static) in the test registry, made once.
func multiBusybox(t *testing.T) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the multi-platform tests pair amd64 with arm64 and run on amd64")
	}
	multiBase.once.Do(func() {
		multiBase.ref = env.registry + "/library/busybox:multi"
		multiBase.err = testenv.MakeBusyboxIndex(filepath.Join(env.tmp, "busybox-multi"), multiBase.ref, "amd64", "arm64")
	})
	if multiBase.err != nil {
		t.Fatalf("making the two-platform busybox: %v", multiBase.err)
	}
	return multiBase.ref
}

// needEmulator skips a test unless programs for arch run here through
// a binfmt_misc handler (Debian's qemu-user-static registers them).
func needEmulator(t *testing.T, arch string) string {
	t.Helper()
	h, err := isolation.Emulation(arch, "")
	if err != nil {
		t.Skipf("needs QEMU user emulation for %s (apt-get install qemu-user-static, with binfmt_misc mounted): %v", arch, err)
	}
	return h
}

// index is a manifest list or OCI index as skopeo inspect --raw shows it.
type index struct {
	MediaType string `json:"mediaType"`
	Manifests []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Platform  struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
		} `json:"platform"`
	} `json:"manifests"`
}

func (ix index) platforms() string {
	var ps []string
	for _, m := range ix.Manifests {
		ps = append(ps, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	return strings.Join(ps, ",")
}

func rawIndex(t *testing.T, transportRef string) index {
	t.Helper()
	var ix index
	out := run(t, "skopeo", "inspect", "--raw", "--tls-verify=false", transportRef)
	if err := json.Unmarshal([]byte(out), &ix); err != nil {
		t.Fatalf("%s: %v\n%s", transportRef, err, out)
	}
	return ix
}

// fetchPlatform pulls arch's image of the index ref and unpacks it.
func fetchPlatform(t *testing.T, ref, arch string) string {
	t.Helper()
	dir := t.TempDir()
	layout, bundle := filepath.Join(dir, "layout"), filepath.Join(dir, "bundle")
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "--override-arch", arch, "docker://"+ref, "oci:"+layout+":t")
	run(t, "umoci", "unpack", "--image", layout+":t", bundle)
	return filepath.Join(bundle, "rootfs")
}

const crossCompile = `FROM --platform=$BUILDPLATFORM {{.Go}} AS build
WORKDIR /src
COPY hello.go .
ARG TARGETOS TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -o /out/hello hello.go && uname -m > /out/built-on
FROM {{.Multi}}
COPY --from=build /out/ /
CMD ["/hello"]
`

// TestMultiPlatformCrossCompile: the cheap path. One invocation pushes an
// index for amd64 and arm64 whose binaries were cross-compiled by Go on
// this machine's CPU, once per platform, without emulation.
func TestMultiPlatformCrossCompile(t *testing.T) {
	needs(t)
	multi := multiBusybox(t)
	gotool := goToolchain(t)
	df := strings.NewReplacer("{{.Go}}", gotool, "{{.Multi}}", multi).Replace(crossCompile)
	ctx := writeContext(t, map[string]string{"Dockerfile": df, "hello.go": "package main\n\nfunc main() { println(\"hello from go\") }\n"})
	ref := env.registry + "/cross:1"
	r := mustBuild(t, ctx, "--context", ctx, "--platform", "linux/amd64,linux/arm64", "--destination", ref)

	ix := rawIndex(t, "docker://"+ref)
	if ix.MediaType != "application/vnd.oci.image.index.v1+json" || ix.platforms() != "linux/amd64,linux/arm64" {
		t.Fatalf("pushed %s for %s, want an OCI index for linux/amd64,linux/arm64", ix.MediaType, ix.platforms())
	}
	if got := strings.TrimSpace(r.stdout); !strings.HasPrefix(got, env.registry+"/cross@sha256:") || got != env.registry+"/cross@"+inspect(t, ref, false)["Digest"].(string) {
		t.Errorf("stdout %q does not name the index", got)
	}
	run(t, "crane", "validate", "--remote", ref)
	run(t, "skopeo", "copy", "-q", "--all", "--src-tls-verify=false", "docker://"+ref, "oci:"+filepath.Join(t.TempDir(), "all")+":t")

	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for arch, want := range machines {
		root := fetchPlatform(t, ref, arch)
		f, err := elf.Open(filepath.Join(root, "hello"))
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if f.Machine != want {
			t.Errorf("the %s image's binary is for %s", arch, f.Machine)
		}
		f.Close()
		if on, _ := os.ReadFile(filepath.Join(root, "built-on")); strings.TrimSpace(string(on)) != "x86_64" {
			t.Errorf("the %s binary was built on %q, not natively on x86_64", arch, on)
		}
		if b, _ := os.ReadFile(filepath.Join(root, "bin/busybox")); len(b) == 0 {
			t.Errorf("the %s image lacks its base", arch)
		}
	}
	for _, want := range []string{"[linux/amd64 build 4/4] RUN", "[linux/arm64 build 4/4] RUN", "[linux/arm64 stage-1 2/2] COPY --from=build"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, tail(r.stderr, 30))
		}
	}
	if strings.Contains(r.stderr, "emulated") {
		t.Errorf("a step ran emulated:\n%s", r.stderr)
	}
	if _, err := isolation.Emulation("arm64", ""); err == nil {
		if out, code := runImage(t, ref); code != 0 || !strings.Contains(out, "hello from go") {
			t.Errorf("running the image: exit %d, %q", code, out)
		}
	}
}

const emulatedRun = `FROM {{.Multi}}
COPY note /note
RUN uname -m > /m
CMD ["cat", "/m"]
`

// TestMultiPlatformEmulated: RUN for arm64 runs under QEMU through its
// binfmt_misc handler, alone or beside amd64; the multi-platform images
// equal single-platform builds; with the handler turned off the build
// fails before it starts.
func TestMultiPlatformEmulated(t *testing.T) {
	needs(t)
	multi := multiBusybox(t)
	needEmulator(t, "arm64")
	ctx := writeContext(t, map[string]string{"Dockerfile": strings.ReplaceAll(emulatedRun, "{{.Multi}}", multi), "note": "hi\n"})

	single := env.registry + "/emulated:arm64"
	mustBuild(t, ctx, "--context", ctx, "--platform", "linux/arm64", "--destination", single, "--reproducible")
	if m := inspect(t, single, false); m["Architecture"] != "arm64" {
		t.Errorf("the single-platform image is for %v", m["Architecture"])
	}
	if out, code := runImage(t, single); code != 0 || out != "aarch64\n" {
		t.Errorf("running the arm64 image under runc and QEMU: exit %d, %q", code, out)
	}

	both := env.registry + "/emulated:both"
	dir := t.TempDir()
	tarPath, layoutPath := filepath.Join(dir, "both.tar"), filepath.Join(dir, "layout")
	mustBuild(t, ctx, "--context", ctx, "--custom-platform", "linux/amd64,linux/arm64", "--destination", both, "--reproducible",
		"--tar-path", tarPath, "--oci-layout-path", layoutPath, "--digest-file", filepath.Join(dir, "digest"))
	ix := rawIndex(t, "docker://"+both)
	if ix.platforms() != "linux/amd64,linux/arm64" {
		t.Fatalf("index for %s", ix.platforms())
	}
	digest, _ := os.ReadFile(filepath.Join(dir, "digest"))
	if string(digest) != inspect(t, both, false)["Digest"] {
		t.Errorf("the digest file holds %q, not the index's digest", digest)
	}
	for _, where := range []string{"oci-archive:" + tarPath, "oci:" + layoutPath + ":both"} {
		if got := rawIndex(t, where); got.platforms() != ix.platforms() || got.Manifests[1].Digest != ix.Manifests[1].Digest {
			t.Errorf("%s holds %s, not the pushed index", where, got.platforms())
		}
	}
	for arch, want := range map[string]string{"amd64": "x86_64\n", "arm64": "aarch64\n"} {
		if m, _ := os.ReadFile(filepath.Join(fetchPlatform(t, both, arch), "m")); string(m) != want {
			t.Errorf("the %s image's /m is %q, want %q", arch, m, want)
		}
	}
	// The same build, one platform at a time or together: the same image.
	singleDigest := inspect(t, single, false)["Digest"]
	if ix.Manifests[1].Digest != singleDigest {
		t.Errorf("the index's arm64 image is %s, the single-platform build's %s", ix.Manifests[1].Digest, singleDigest)
	}

	// No handler: the build stops before pulling anything.
	for {
		h, err := isolation.Emulation("arm64", "")
		if err != nil {
			break
		}
		p := filepath.Join(isolation.BinfmtDir, h)
		if err := os.WriteFile(p, []byte("0"), 0o644); err != nil {
			t.Fatalf("turning off %s: %v", h, err)
		}
		t.Cleanup(func() { os.WriteFile(p, []byte("1"), 0o644) })
	}
	res := runBuilder(t, ctx, nil, "--context", ctx, "--platform", "linux/amd64,linux/arm64", "--destination", env.registry+"/emulated:none")
	if res.code == 0 {
		t.Fatal("a build for arm64 without its emulator succeeded")
	}
	for _, want := range []string{"Dockerfile:1", "RUN for linux/arm64", "no emulator is registered", "qemu-user-static"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("the error does not say %q:\n%s", want, tail(res.stderr, 10))
		}
	}
	if strings.Contains(res.stderr, "load metadata") {
		t.Errorf("the build started before failing:\n%s", tail(res.stderr, 10))
	}
}
