package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildcrew/builder/pkg/isolation"
)

// dockerDefaultCaps is the capability set a container gets from Docker,
// containerd and CRI-O by default: no CAP_SYS_ADMIN.
var dockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// selfImage builds the builder's own image (target "image", or its
// "debug" variant) with scripts/build-image, as a release does, and
// pushes it. The script stages dist/ in the repository.
func selfImage(t *testing.T, target string) string {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ref := env.registry + "/builder:" + target
	args := []string{"--destination", ref}
	if target == "debug" {
		args = append([]string{"--debug"}, args...)
	}
	cmd := exec.Command(filepath.Join(repo, "scripts", "build-image"), args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build-image %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 30))
	}
	return ref
}

func TestSelfImage(t *testing.T) {
	needs(t)
	ref := selfImage(t, "image")
	run(t, "crane", "validate", "--remote", ref)
	cfg := inspect(t, ref, true)["config"].(map[string]any)
	if jsonOf(cfg["Entrypoint"]) != `["/kaniko/executor"]` || cfg["WorkingDir"] != "/workspace" {
		t.Errorf("config %s", jsonOf(cfg))
	}
	p := fetch(t, ref)
	helpers := []string{"/kaniko/docker-credential-ecr-login", "/kaniko/docker-credential-gcr", "/kaniko/docker-credential-acr-env"}
	for _, want := range append([]string{"/kaniko/builder", "/kaniko/executor", "/kaniko/ssl/certs/ca-certificates.crt"}, helpers...) {
		if _, ok := p.tree[want]; !ok {
			t.Errorf("%s missing from the image", want)
		}
	}
	if _, ok := p.tree["/README.md"]; ok {
		t.Error(".dockerignore let the repository's files in")
	}
	if len(p.tree) > 11 {
		t.Errorf("the image holds more than the binary, the cloud helpers and certificates: %v", keys(p.tree))
	}
	// The helpers are static and run in the image (here: their versions).
	for _, h := range []string{"docker-credential-ecr-login -v", "docker-credential-gcr version"} {
		args := strings.Fields(h)
		args[0] = "/kaniko/" + args[0]
		if out, code := runImage(t, ref, args...); code != 0 {
			t.Errorf("%s in the image: exit %d\n%s", h, code, out)
		}
	}
	out, code := runImage(t, ref, "/kaniko/executor", "version")
	if code != 0 || !strings.HasPrefix(out, "builder ") {
		t.Errorf("version in the image: exit %d\n%s", code, out)
	}
}

// inPodDockerfile uses RUN, deletions, stages built FROM stages, COPY
// --from and RUN's cache, bind and tmpfs mounts (put in place as files
// in the Pod), on both test bases.
const inPodDockerfile = `ARG BUSYBOX
ARG DEBIAN
FROM $DEBIAN AS deb
RUN rm -rf /usr/share/doc /var/lib/dpkg/info/*.md5sums && mkdir -p /out && cp /etc/debian_version /out/ && echo from-debian > /out/marker
FROM $BUSYBOX AS build
RUN mkdir -p /app && echo hello > /app/hello && echo gone > /app/gone && mkdir /app/sub && echo x > /app/sub/x
RUN rm /app/gone && rm -rf /app/sub && ln -s hello /app/link
FROM build AS test
RUN test -f /app/hello && ! test -e /app/gone && ! test -e /out && echo ok > /app/tested
FROM $BUSYBOX
COPY --from=deb /out/ /deb/
COPY --from=test /app/ /app/
COPY ctxfile /ctxfile
RUN --mount=type=cache,target=/var/cache/build echo run >> /var/cache/build/log && cat /var/cache/build/log > /cache-seen
RUN --mount=type=cache,target=/var/cache/build cat /var/cache/build/log >> /cache-seen
RUN --mount=type=bind,target=/ctx cat /ctx/ctxfile > /bound && ! test -e /ctx/nothing
RUN --mount=type=bind,from=deb,source=/out,target=/app cat /app/marker > /from-deb && ! test -e /app/hello
RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/x && ! test -e /scratch/y
RUN test ! -e /var/cache/build && test ! -e /ctx && test ! -e /scratch && test -e /app/hello && echo clean > /mounts-gone
RUN rm /etc/group && echo done > /done
`

// asPod makes a runtime spec run args the way a Kubernetes Pod runs the
// builder: default capabilities, not privileged, host network, the
// context ctx mounted at /workspace, /etc/resolv.conf and /etc/hosts
// mounted as the kubelet mounts them, a writable root.
func asPod(args []string, ctx string) func(spec map[string]any) {
	return func(spec map[string]any) {
		proc := spec["process"].(map[string]any)
		proc["args"] = args
		proc["env"] = append(proc["env"].([]any), "KUBERNETES_SERVICE_HOST=10.96.0.1")
		proc["capabilities"] = map[string]any{
			"bounding": dockerDefaultCaps, "effective": dockerDefaultCaps, "permitted": dockerDefaultCaps,
		}
		linux := spec["linux"].(map[string]any)
		var namespaces []any
		for _, ns := range linux["namespaces"].([]any) {
			if ns.(map[string]any)["type"] != "network" {
				namespaces = append(namespaces, ns)
			}
		}
		linux["namespaces"] = namespaces
		// The kubelet mounts the Pod's name service files, as here the
		// host's (apt in a RUN step resolves its mirror through them).
		spec["mounts"] = append(spec["mounts"].([]any), map[string]any{
			"destination": "/workspace", "type": "bind", "source": ctx, "options": []string{"rbind", "ro"},
		}, map[string]any{
			"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf", "options": []string{"rbind", "ro"},
		}, map[string]any{
			"destination": "/etc/hosts", "type": "bind", "source": "/etc/hosts", "options": []string{"rbind", "ro"},
		})
		spec["root"].(map[string]any)["readonly"] = false
	}
}

// TestInPod runs the builder's image the way a Kubernetes Pod runs it:
// under runc, default capabilities, not privileged, host network, the
// context mounted at /workspace. It builds and pushes at / of its own
// container, and the result equals chroot isolation's.
func TestInPod(t *testing.T) {
	needs(t)
	self := selfImage(t, "image")
	deb := debianBase(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": inPodDockerfile, "ctxfile": "from the context\n"})
	args := []string{"--build-arg", "BUSYBOX=" + env.busybox, "--build-arg", "DEBIAN=" + deb}

	inPod := env.registry + "/inpod:pod"
	podArgs := append([]string{"/kaniko/executor", "--context", "dir:///workspace", "--destination", inPod}, args...)
	out, code := runImageWith(t, self, asPod(podArgs, ctx))
	if code != 0 {
		t.Fatalf("the builder in a pod: exit %d\n%s", code, tail(out, 40))
	}
	if !strings.Contains(out, "isolation: none") || !strings.Contains(out, env.registry+"/inpod@sha256:") {
		t.Errorf("output lacks the isolation choice or the pushed digest:\n%s", tail(out, 20))
	}

	reference := env.registry + "/inpod:chroot"
	// A cache of its own, empty as the Pod's is.
	mustBuild(t, ctx, append([]string{"--context", ctx, "--destination", reference, "--isolation", "chroot", "--cache-mount-dir", t.TempDir()}, args...)...)

	pod, chroot := fetch(t, inPod), fetch(t, reference)
	if diffs := diffTrees(pod.tree, chroot.tree); len(diffs) > 0 {
		for p, d := range diffs {
			t.Errorf("%s: in the pod %s", p, d)
		}
	}
	for _, p := range []string{"/deb/debian_version", "/deb/marker", "/app/hello", "/app/link", "/app/tested", "/ctxfile", "/done",
		"/cache-seen", "/bound", "/from-deb", "/mounts-gone"} {
		if _, ok := pod.tree[p]; !ok {
			t.Errorf("%s missing", p)
		}
	}
	for _, p := range []string{"/app/gone", "/app/sub", "/etc/group", "/kaniko", "/workspace", "/var/cache/build", "/ctx", "/scratch"} {
		if _, ok := pod.tree[p]; ok {
			t.Errorf("%s should not be in the image", p)
		}
	}
	if out, code := runImage(t, inPod, "cat", "/app/hello", "/deb/marker", "/done"); code != 0 || out != "hello\nfrom-debian\ndone\n" {
		t.Errorf("running the result: exit %d, %q", code, out)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

const inPodCross = `FROM --platform=$BUILDPLATFORM {{.Busybox}} AS tools
ARG TARGETPLATFORM
RUN echo "for $TARGETPLATFORM, built on $(uname -m)" > /made
FROM {{.Multi}}
COPY --from=tools /made /made
COPY ctxfile /ctxfile
`

// TestInPodMultiPlatform: in a Pod (isolation none, one root shared by
// the stages), a cross-building Dockerfile makes one index for two
// platforms; each platform's RUN in the build stage ran on the node's
// CPU, and where the node has QEMU's handler, the final stage's RUN ran
// under emulation for arm64.
func TestInPodMultiPlatform(t *testing.T) {
	needs(t)
	multi := multiBusybox(t)
	self := selfImage(t, "image")
	df := strings.NewReplacer("{{.Busybox}}", env.busybox, "{{.Multi}}", multi).Replace(inPodCross)
	_, noEmulator := isolation.Emulation("arm64", "")
	if noEmulator == nil {
		df += "RUN uname -m > /ran-on\n"
	}
	ctx := writeContext(t, map[string]string{"Dockerfile": df, "ctxfile": "from the context\n"})
	ref := env.registry + "/inpod-multi:1"
	out, code := runImageWith(t, self, asPod([]string{"/kaniko/executor", "--context", "dir:///workspace", "--destination", ref, "--platform", "linux/amd64,linux/arm64"}, ctx))
	if code != 0 {
		t.Fatalf("the builder in a pod: exit %d\n%s", code, tail(out, 40))
	}
	if !strings.Contains(out, "isolation: none") {
		t.Errorf("output lacks the isolation choice:\n%s", tail(out, 20))
	}
	if ix := rawIndex(t, "docker://"+ref); ix.platforms() != "linux/amd64,linux/arm64" {
		t.Fatalf("pushed an index for %s", ix.platforms())
	}
	for arch, want := range map[string]string{"amd64": "for linux/amd64, built on x86_64\n", "arm64": "for linux/arm64, built on x86_64\n"} {
		root := fetchPlatform(t, ref, arch)
		if made, _ := os.ReadFile(filepath.Join(root, "made")); string(made) != want {
			t.Errorf("the %s image's /made is %q, want %q", arch, made, want)
		}
		if c, _ := os.ReadFile(filepath.Join(root, "ctxfile")); string(c) != "from the context\n" {
			t.Errorf("the %s image's /ctxfile is %q", arch, c)
		}
		if noEmulator == nil {
			want := map[string]string{"amd64": "x86_64\n", "arm64": "aarch64\n"}[arch]
			if ran, _ := os.ReadFile(filepath.Join(root, "ran-on")); string(ran) != want {
				t.Errorf("the %s image's RUN ran on %q, want %q", arch, ran, want)
			}
		}
	}
}
