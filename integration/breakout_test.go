package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/buildcrew/builder/internal/testenv"
)

// An attack is a Dockerfile that tries to reach the build host from a RUN
// step, with nothing but what a Dockerfile can say. {{HOST}} is a host
// directory holding files the attack goes after, {{MARKER}} a string only
// the host's files hold, {{LOOP_MAJOR}}/{{LOOP_MINOR}} a loop device the
// test attached to a host file, {{BASE}} the busybox base image. /probe
// (testdata/probe) is in every image; it prints "ATTACK name: blocked"
// or "ATTACK name: SUCCEEDED".
type attack struct {
	name       string
	dockerfile string
	context    map[string]string // more context files
	links      map[string]string // context symlinks: name -> target
	args       []string          // more builder flags
	// fails: the build itself must fail, cleanly, with this in its
	// output; otherwise it must succeed and every ATTACK line in its
	// output must say blocked (at least one must).
	fails string
	loop  bool   // needs the loop device
	from  string // the stage's start, instead of the busybox base

	// buildkit is what BuildKit does with the same Dockerfile where it
	// differs from blocking the attack in the step: "fails:<text>",
	// "succeeds" (the build goes through; the host is still checked), or
	// "n/a" (the attack needs something of this builder's).
	buildkit string
}

// attacks is the breakout suite. TestBreakoutBuildKit runs it against
// BuildKit v0.34.2 (buildkitd, OCI worker, runc 1.1.5, Debian 12, as root)
// where its binaries are built; CI does not build them. Both, on
// 2026-12-02 (this builder: every attack blocked in the step, or the
// build refused, and the host unchanged):
//
//	attack                  this builder                        BuildKit
//	hosts-write-back        step's links left alone (1)         step fails: /etc/hosts read-only
//	stub-dir-symlink        stubs' removal stays in the root (1) step fails: mv /etc busy
//	stub-dir-relative-link  same (1)                            step fails: mv /etc busy
//	mount-point-symlink     /proc not mounted through the link  step fails
//	secret-target-symlink   build fails naming the target       build succeeds, secret inside the root
//	core-pattern, sysctl    EROFS                               EROFS
//	sysrq-trigger           EROFS                               ENOENT
//	sys-write               EROFS                               ENOENT
//	remount-sys, remount-proc-sys, mount-cgroup, mount-tmpfs
//	                        EPERM                               EPERM
//	loop-device, loop-in-dev, mem-device
//	                        EACCES (nodev)                      EPERM (device cgroup)
//	inherited-fd            none inherited                      n/a (buildctl's descriptors never reach buildkitd)
//	insecure-not-allowed    refused before the build            "security.insecure is not allowed"
//	clone-user, clone-mount, unshare-user, keyctl, add_key, ptrace-init,
//	init_module, bpf, open_by_handle_at, setns-mnt, clock_settime,
//	perf_event_open, swapon EPERM                               EPERM
//	chroot-escape, proc-1-root
//	                        ENOENT (pivot_root)                 ENOENT
//	fork-bomb               "can't fork" at --pids-limit 64     n/a (no per-build limit in buildctl)
//	credentials             nothing of the builder's visible    nothing of the daemon's visible
//
// (1) with --no-overlay, where a step can rename /etc; on an overlay the
// rename falls back to a copy that the mount points in /etc stop, as in
// BuildKit. Before this suite, this builder let 14 of them through:
// hosts-write-back, stub-dir-symlink, core-pattern (the host's
// core_pattern changed), sysctl, both loop devices, inherited-fd,
// insecure-not-allowed, clone-user, unshare-user, keyctl, add_key, bpf
// and fork-bomb.
// noOverlay runs RUN on the stage's root itself: there a step can rename
// /etc (on an overlay the rename of a lower directory falls back to a copy,
// which the mount points in it stop), and so swap the directories the
// builder works in after the step for links to the host's.
var noOverlay = []string{"--no-overlay"}

var attacks = []attack{
	{name: "hosts-write-back", args: noOverlay, dockerfile: `RUN (echo "6.6.6.6 {{MARKER}}" >> /etc/hosts || true) && mv /etc /etc.old && mkdir /etc && ln -s {{HOST}}/victim /etc/hosts && ln -s {{HOST}}/victim /etc/resolv.conf && echo "ATTACK hosts-write-back: blocked unless the builder writes through the link"`},
	{name: "stub-dir-symlink", args: noOverlay, dockerfile: `RUN mv /etc /etc.old && ln -s {{HOST}} /etc && echo "ATTACK stub-dir-symlink: blocked unless the builder removes {{HOST}}/hosts"`},
	{name: "stub-dir-relative-link", args: noOverlay, dockerfile: `RUN mv /etc /etc.old && ln -s ../../../../../../../../../..{{HOST}} /etc && echo "ATTACK stub-dir-relative-link: blocked unless the builder follows it"`},
	{name: "mount-point-symlink", from: "FROM scratch\nCOPY --from={{BASE}} /bin /bin\n", links: map[string]string{"rootfs/proc": "{{HOST}}", "rootfs/sys": "{{HOST}}"},
		dockerfile: "COPY rootfs/ /\nRUN ls /proc/ >/dev/null 2>&1; echo \"ATTACK mount-point-symlink: blocked unless proc lands on {{HOST}}\""},
	{name: "secret-target-symlink", context: map[string]string{"secret": "s3cr3t"}, args: []string{"--secret", "id=tok,src=secret"},
		dockerfile: "RUN mkdir -p /run && ln -s {{HOST}} /run/secrets\nRUN --mount=type=secret,id=tok cat /run/secrets/tok",
		fails:      "cannot mount a secret at /run/secrets/tok", buildkit: "succeeds"},
	{name: "core-pattern", dockerfile: `RUN /probe write /proc/sys/kernel/core_pattern '|/tmp/payload'`},
	{name: "sysrq-trigger", dockerfile: `RUN /probe write /proc/sysrq-trigger h`},
	{name: "sysctl", dockerfile: `RUN /probe write /proc/sys/vm/drop_caches 3`},
	{name: "sys-write", dockerfile: `RUN /probe write /sys/kernel/uevent_helper ""`},
	{name: "remount-sys", dockerfile: `RUN /probe remount-sys`},
	{name: "remount-proc-sys", dockerfile: `RUN /probe remount-proc-sys`},
	{name: "mount-cgroup", dockerfile: `RUN /probe mount-cgroup`},
	{name: "mount-tmpfs", dockerfile: `RUN /probe mount-tmpfs`},
	{name: "loop-device", loop: true, dockerfile: `RUN /probe device /tmp/loop {{LOOP_MAJOR}} {{LOOP_MINOR}}`},
	{name: "loop-in-dev", loop: true, dockerfile: `RUN /probe device /dev/loop-x {{LOOP_MAJOR}} {{LOOP_MINOR}}`},
	{name: "mem-device", dockerfile: `RUN /probe chardev /tmp/mem 1 1`},
	{name: "inherited-fd", dockerfile: `RUN /probe fds planted-by-the-step`, buildkit: "n/a"},
	{name: "insecure-not-allowed", dockerfile: `RUN --security=insecure /probe caps`, fails: "security.insecure", buildkit: "fails:security.insecure is not allowed"},
	{name: "clone-user", dockerfile: `RUN /probe clone-user`},
	{name: "clone-mount", dockerfile: `RUN /probe clone-mount`},
	{name: "unshare-user", dockerfile: `RUN unshare -U true && echo "ATTACK unshare-user: SUCCEEDED" || echo "ATTACK unshare-user: blocked"`},
	{name: "keyctl", dockerfile: `RUN /probe keyctl`},
	{name: "add_key", dockerfile: `RUN /probe add_key`},
	{name: "ptrace-init", dockerfile: `RUN /probe ptrace-init`},
	{name: "init_module", dockerfile: `RUN /probe init_module`},
	{name: "bpf", dockerfile: `RUN /probe bpf`},
	{name: "open_by_handle_at", dockerfile: `RUN /probe open_by_handle_at`},
	{name: "setns-mnt", dockerfile: `RUN /probe setns-mnt`},
	{name: "clock_settime", dockerfile: `RUN /probe clock_settime`},
	{name: "perf_event_open", dockerfile: `RUN /probe perf_event_open`},
	{name: "swapon", dockerfile: `RUN /probe swapon`},
	{name: "chroot-escape", dockerfile: `RUN /probe chroot-escape {{HOST}}/marker`},
	{name: "proc-1-root", dockerfile: `RUN /probe read /proc/1/root{{HOST}}/marker {{MARKER}}`},
	{name: "fork-bomb", args: []string{"--pids-limit", "64"}, fails: "can't fork", buildkit: "n/a",
		dockerfile: `RUN i=0; while [ $i -lt 2000 ]; do sleep 30 & i=$((i+1)); done; echo "ATTACK fork-bomb: SUCCEEDED"`},
	{name: "credentials", dockerfile: `RUN (cat /proc/1/environ; ls -a / /root; find / -xdev -name config.json -exec cat {} +) 2>&1 | grep -q {{MARKER}} && echo "ATTACK credentials: SUCCEEDED" || echo "ATTACK credentials: blocked"`},
}

// blocked and succeeded are the lines an attack prints, as progress
// shows a step's output (after the seconds since it started; the echoed
// command line does not count).
var (
	blocked   = regexp.MustCompile(`[0-9.]+ ATTACK [a-z_-]+: blocked`)
	succeeded = regexp.MustCompile(`[0-9.]+ ATTACK [a-z_-]+: SUCCEEDED`)
)

// TestBreakout builds every attack with the builder in chroot isolation
// and checks, besides what the step saw, that nothing on the host changed:
// the files of {{HOST}} (contents, modes, times, the directory's own
// mtime), the loop device's backing file, and /proc/sys/kernel's
// core_pattern.
func TestBreakout(t *testing.T) {
	needs(t)
	probe := buildProbe(t)
	h := newHost(t)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			if a.loop && h.loopDev == "" {
				t.Skip("no loop device here: " + h.loopWhy)
			}
			before := h.state(t)
			out, code := h.build(t, a, probe)
			if a.fails != "" {
				if code == 0 || !strings.Contains(out, a.fails) {
					t.Errorf("exit %d; want a failed build saying %q:\n%s", code, a.fails, out)
				}
			} else {
				if code != 0 {
					t.Fatalf("exit %d:\n%s", code, out)
				}
				if succeeded.MatchString(out) || !blocked.MatchString(out) {
					t.Errorf("the attack was not blocked:\n%s", out)
				}
			}
			if strings.Contains(out, "ATTACK") && strings.Contains(out, h.marker) && a.name != "hosts-write-back" {
				t.Errorf("the host's marker reached the step's output:\n%s", out)
			}
			if diff := cmp.Diff(before, h.state(t)); diff != "" {
				t.Errorf("the host changed (-before +after):\n%s\noutput:\n%s", diff, out)
			}
		})
	}
}

// buildProbe builds testdata/probe as a static binary.
func buildProbe(t *testing.T) string {
	t.Helper()
	probe := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command("go", "build", "-o", probe, "./testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	return probe
}

// host is what the attacks go after.
type host struct {
	dir     string // {{HOST}}
	marker  string
	loopDev string // /dev/loopN attached to loopFile, "" if none could be
	loopWhy string
	loop    string // the backing file
	major   uint32
	minor   uint32
	config  string // DOCKER_CONFIG for the builder, holding the marker
}

func newHost(t *testing.T) *host {
	h := &host{dir: filepath.Join(t.TempDir(), "host"), marker: fmt.Sprintf("HOST-MARKER-%d", time.Now().UnixNano())}
	if err := testenv.WriteFiles(h.dir, 0o644, map[string]string{
		"hosts": "127.0.0.1 host's own\n", "resolv.conf": "nameserver 192.0.2.1\n",
		"victim": "the host's victim file\n", "marker": h.marker + "\n",
		"docker/config.json": `{"auths":{"registry.example":{"auth":"dXNlcjpwYXNz","identitytoken":"` + h.marker + `"}}}`,
	}); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(h.dir, time.Unix(1e9, 0), time.Unix(1e9, 0))
	// Should a builder let core_pattern through (this one did once), the
	// machine gets its own back.
	if pattern, err := os.ReadFile("/proc/sys/kernel/core_pattern"); err == nil {
		t.Cleanup(func() {
			if now, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); !bytes.Equal(now, pattern) {
				os.WriteFile("/proc/sys/kernel/core_pattern", pattern, 0)
			}
		})
	}
	h.config = filepath.Join(h.dir, "docker")
	h.loop = filepath.Join(t.TempDir(), "loop.img")
	img := make([]byte, 1<<20)
	copy(img, h.marker)
	if err := os.WriteFile(h.loop, img, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", h.loop).Output()
	if err != nil {
		h.loopWhy = fmt.Sprintf("losetup: %v", err)
		return h
	}
	h.loopDev = strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", h.loopDev).Run() })
	var st syscall.Stat_t
	if err := syscall.Stat(h.loopDev, &st); err != nil {
		t.Fatal(err)
	}
	h.major, h.minor = uint32(st.Rdev>>8)&0xfff, uint32(st.Rdev&0xff)|uint32(st.Rdev>>12)&0xfff00
	return h
}

// state describes everything an attack could change on the host.
func (h *host) state(t *testing.T) map[string]string {
	t.Helper()
	s, err := testenv.TreeSums(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{h.loop, "/proc/sys/kernel/core_pattern", "/sys/kernel/uevent_helper"} {
		data, err := os.ReadFile(p)
		sum := sha256.Sum256(data)
		s[p] = fmt.Sprintf("%x %v", sum[:8], err)
	}
	return s
}

// build runs the builder on a's Dockerfile with a descriptor to {{HOST}}
// left open without close-on-exec (fd 3 in the builder), as a careless
// parent would.
func (h *host) build(t *testing.T, a attack, probe string) (string, int) {
	t.Helper()
	dir := h.context(t, a, probe)
	hostDir, err := os.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer hostDir.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"--context", dir, "--no-push", "--work-dir", t.TempDir()}, a.args...)
	cmd := exec.CommandContext(ctx, env.builder, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+h.config)
	cmd.ExtraFiles = []*os.File{hostDir}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running the builder: %v", err)
	}
	return out.String(), code
}

// context writes a's build context: its Dockerfile filled in, the probe,
// its files and links.
func (h *host) context(t *testing.T, a attack, probe string) string {
	t.Helper()
	fill := strings.NewReplacer("{{HOST}}", h.dir, "{{MARKER}}", h.marker,
		"{{LOOP_MAJOR}}", fmt.Sprint(h.major), "{{LOOP_MINOR}}", fmt.Sprint(h.minor), "{{BASE}}", env.busybox)
	from := a.from
	if from == "" {
		from = "FROM {{BASE}}\n"
	}
	files := map[string]string{"Dockerfile": fill.Replace(from + "COPY probe /probe\n" + a.dockerfile + "\n")}
	for k, v := range a.context {
		files[k] = v
	}
	dir := writeContext(t, files)
	data, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range a.links {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(fill.Replace(target), p); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBreakoutBuildKit builds every attack with BuildKit itself, the
// reference the boundary is measured against, and checks the host the
// same way. It runs where buildkitd and buildctl are built.
func TestBreakoutBuildKit(t *testing.T) {
	needs(t)
	bk, err := testenv.StartBuildKit(testenv.BuildKitBinDir(), filepath.Join(t.TempDir(), "buildkit"), env.registry)
	if err != nil {
		t.Skipf("BuildKit: %v", err)
	}
	defer bk.Stop()
	probe := buildProbe(t)
	h := newHost(t)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			if a.buildkit == "n/a" || (a.loop && h.loopDev == "") {
				t.Skip("not an attack on BuildKit, or no loop device")
			}
			before := h.state(t)
			dir := h.context(t, a, probe)
			var args []string
			for i := 0; i+1 < len(a.args); i += 2 {
				if a.args[i] == "--secret" {
					args = append(args, "--secret", strings.Replace(a.args[i+1], "src=", "src="+dir+"/", 1))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, code, err := bk.Build(ctx, dir, t.TempDir(), args...)
			if err != nil {
				t.Fatal(err)
			}
			switch want := a.buildkit; {
			case strings.HasPrefix(want, "fails:"):
				if code == 0 || !strings.Contains(out, strings.TrimPrefix(want, "fails:")) {
					t.Errorf("exit %d; want a failure saying %q:\n%s", code, want, out)
				}
			case want == "succeeds":
				if code != 0 {
					t.Errorf("exit %d:\n%s", code, out)
				}
			default:
				// Blocked in the step, or the step itself failed
				// (e.g. BuildKit's /etc/hosts is read-only).
				if succeeded.MatchString(out) || (code == 0 && !blocked.MatchString(out)) {
					t.Errorf("exit %d, want the attack blocked:\n%s", code, out)
				}
			}
			t.Logf("BuildKit: exit %d, %s", code, outcome(out))
			if diff := cmp.Diff(before, h.state(t)); diff != "" {
				t.Errorf("the host changed (-before +after):\n%s\noutput:\n%s", diff, out)
			}
		})
	}
}

// outcome sums up what an attack's build printed: its ATTACK line, or the
// step's last line of output before the error.
func outcome(out string) string {
	if m := regexp.MustCompile(`ATTACK [a-z_-]+: [^\n]*`).FindAllString(out, -1); len(m) > 0 {
		return m[len(m)-1]
	}
	last := ""
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 && strings.HasPrefix(l, "#") && !strings.Contains(l, "ERROR") && !strings.Contains(l, "DONE") {
			last = strings.Join(f[2:], " ")
		}
		if strings.HasPrefix(l, "error:") {
			return last + " | " + l
		}
	}
	return last
}
