package integration

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The paths a kubelet masks and makes read-only in every container that
// is not privileged (its DefaultProcMount), sent over the CRI as it sends
// them.
var (
	kubeletMaskedPaths = []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}
	kubeletReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// criRuntime is a containerd of the test's own, spoken to over its CRI
// socket as a kubelet does.
type criRuntime struct {
	runtime runtimeapi.RuntimeServiceClient
	images  runtimeapi.ImageServiceClient
	logs    string // the pods' log directory
}

// startContainerd runs containerd (Debian's) with its root, state and
// socket in a directory of the test's own, the CRI plugin's pause image
// set to pause, and plain HTTP to the test registry.
func startContainerd(t *testing.T, pause string) *criRuntime {
	t.Helper()
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("containerd is not installed (Debian package containerd): no CRI to run the builder's image through")
	}
	// Short: the socket's path must fit a sockaddr_un.
	dir, err := os.MkdirTemp("", "cri")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "c.sock")
	cfg := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  # A kubelet gives sandboxes oom_score_adj -998; lowering it needs
  # CAP_SYS_RESOURCE, which a CI machine that is itself a container may
  # not grant.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[5]q
    conf_dir = %[5]q
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors.%[6]q]
    endpoint = ["http://%[6]s"]
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, pause, filepath.Join(dir, "cni"), env.registry)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			t.Logf("containerd's log:\n%s", tail(string(data), 30))
		}
	})
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := &criRuntime{runtime: runtimeapi.NewRuntimeServiceClient(conn), images: runtimeapi.NewImageServiceClient(conn), logs: filepath.Join(dir, "pods")}
	waitUntil(t, time.Minute, "containerd's CRI does not answer", func() error {
		_, err := r.runtime.Version(t.Context(), &runtimeapi.VersionRequest{})
		return err
	})
	return r
}

// podRun is one container run in a Pod as a kubelet makes it.
type podRun struct {
	image string
	args  []string
	env   map[string]string
	// mounts are host paths by container path, read-only.
	mounts map[string]string
}

// run makes a pod sandbox and the container with the defaults a kubelet
// uses for a Pod that asks for nothing special (RuntimeDefault seccomp,
// containerd's default capabilities, not privileged, the kubelet's masked
// and read-only /proc paths, every volume read-only here), except host
// network so that the Pod reaches the test registries on loopback. It
// waits for the container to exit and returns its exit code and log.
func (r *criRuntime) run(t *testing.T, p podRun) (int32, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	seccomp := &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	ns := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	uid := fmt.Sprintf("uid-%d", time.Now().UnixNano())
	logDir := filepath.Join(r.logs, uid)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sandbox := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "build", Uid: uid, Namespace: "ci"},
		LogDirectory: logDir,
		Labels:       map[string]string{"io.kubernetes.pod.name": "build", "io.kubernetes.pod.namespace": "ci"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: ns, Seccomp: seccomp,
		}},
	}
	if _, err := r.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: p.image}, SandboxConfig: sandbox}); err != nil {
		t.Fatalf("pulling %s over the CRI: %v", p.image, err)
	}
	sb, err := r.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandbox})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	t.Cleanup(func() {
		bg := context.Background()
		r.runtime.StopPodSandbox(bg, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.PodSandboxId})
		r.runtime.RemovePodSandbox(bg, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId})
	})
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "builder"},
		Image:    &runtimeapi.ImageSpec{Image: p.image},
		Args:     p.args,
		LogPath:  "builder/0.log",
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: ns, Seccomp: seccomp,
			MaskedPaths: kubeletMaskedPaths, ReadonlyPaths: kubeletReadonlyPaths,
		}},
	}
	for k, v := range p.env {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
	}
	for in, host := range p.mounts {
		cfg.Mounts = append(cfg.Mounts, &runtimeapi.Mount{ContainerPath: in, HostPath: host, Readonly: true})
	}
	c, err := r.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: cfg, SandboxConfig: sandbox})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := r.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	for {
		st, err := r.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.ContainerId})
		if err != nil {
			t.Fatalf("ContainerStatus: %v", err)
		}
		if st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			log, _ := os.ReadFile(filepath.Join(logDir, "builder", "0.log"))
			return st.Status.ExitCode, criLogText(string(log))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// criLogText is the text of a CRI log file: each line is "TIME STREAM
// TAG TEXT", F tags ending a line and P tags a part of one.
func criLogText(log string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		f := strings.SplitN(l, " ", 4)
		if len(f) < 4 {
			continue
		}
		b.WriteString(f[3])
		if f[2] == "F" {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

const criDockerfile = `ARG BUSYBOX
FROM $BUSYBOX AS build
RUN mkdir /out && echo built under the CRI > /out/msg && id -u > /out/uid
FROM $BUSYBOX
COPY --from=build /out/ /out/
RUN cat /out/msg > /copied
`

// TestContainerdCRI runs the builder's image the way a kubelet does,
// through containerd's CRI: a pod sandbox and a container with a
// kubelet's defaults and KUBERNETES_SERVICE_HOST set, the context a
// read-only volume, registry credentials a mounted secret file. It builds
// a multi-stage Dockerfile with RUN and pushes over TLS (a private CA,
// passed with --registry-certificate) to a registry that wants those
// credentials. (User namespaces, hostUsers: false, need containerd 1.7;
// Debian 12 has 1.6: see docs/recipes.)
func TestContainerdCRI(t *testing.T) {
	needs(t)
	self := selfImage(t, "image")
	pause := env.registry + "/pause:1"
	run(t, "crane", "mutate", "--insecure", env.busybox, "--entrypoint", "/bin/sleep,2147483647", "-t", pause)
	cri := startContainerd(t, pause)

	const user, pass = "pod", "from-the-secret"
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	run(t, "htpasswd", "-Bbc", htpasswd, user, pass)
	reg, ca := privateCARegistry(t, htpasswd)
	secret := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	writeDockerConfig(t, secret, reg, auth)
	certs := t.TempDir()
	if data, err := os.ReadFile(ca); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(filepath.Join(certs, "ca.pem"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := writeContext(t, map[string]string{"Dockerfile": criDockerfile})
	dest := reg + "/cri/app:1"
	code, log := cri.run(t, podRun{
		image: self,
		args: []string{"--context", "dir:///workspace", "--destination", dest, "--build-arg", "BUSYBOX=" + env.busybox,
			"--registry-certificate", reg + "=/certs/ca.pem"},
		env:    map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
		mounts: map[string]string{"/workspace": ctx, "/kaniko/.docker": secret, "/certs": certs},
	})
	if code != 0 {
		t.Fatalf("the builder under the CRI: exit %d\n%s", code, tail(log, 40))
	}
	if !strings.Contains(log, "isolation: none") || !strings.Contains(log, reg+"/cri/app@sha256:") {
		t.Errorf("the log lacks the isolation choice or the pushed digest:\n%s", tail(log, 20))
	}
	if strings.Contains(log, pass) {
		t.Errorf("the password appears in the log")
	}
	// Checked by skopeo and umoci, with the CA and the credentials.
	layout := filepath.Join(t.TempDir(), "layout")
	run(t, "skopeo", "copy", "-q", "--src-cert-dir", dirWith(t, ca), "--src-creds", user+":"+pass, "docker://"+dest, "oci:"+layout+":t")
	bundle := filepath.Join(t.TempDir(), "bundle")
	run(t, "umoci", "unpack", "--image", layout+":t", bundle)
	for f, want := range map[string]string{"/copied": "built under the CRI\n", "/out/uid": "0\n"} {
		got, err := os.ReadFile(filepath.Join(bundle, "rootfs", f))
		if err != nil || string(got) != want {
			t.Errorf("%s in the result: %q, %v; want %q", f, got, err, want)
		}
	}
}
