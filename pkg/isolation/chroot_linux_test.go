package isolation

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildcrew/builder/pkg/isolation/internal/stephelper"
)

// busyboxRoot makes a root filesystem holding only a static busybox and the
// directories given, or skips the test where that or root is not available.
func busyboxRoot(t *testing.T, dirs ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chroot isolation needs root (mount and pivot_root)")
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs a static busybox (Debian package busybox-static)")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"sh", "echo", "cat", "id", "ls", "sleep", "hostname", "touch",
		"mknod", "dd", "unshare", "mount", "rm", "ln", "mv", "mkdir", "stat", "readlink", "grep", "wc"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", app)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func run(t *testing.T, root string, script string, mod func(*Spec)) (string, error) {
	t.Helper()
	var out bytes.Buffer
	spec := &Spec{Root: root, Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/bin"}, Stdout: &out, Stderr: &out}
	if mod != nil {
		mod(spec)
	}
	err := (&Chroot{TempDir: t.TempDir()}).Run(context.Background(), spec)
	return out.String(), err
}

func TestChrootRun(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev", "sys", "etc", "tmp")
	out, err := run(t, root, `cat /proc/1/cmdline; echo; hostname; id -u; id -g; ls /dev/null; ls /; cat /dev/pipes/script`, func(s *Spec) {
		s.UID, s.GID = 65534, 65533
		s.Files = map[string][]byte{"script": []byte("from-pipes")}
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	for _, want := range []string{stephelper.Arg0, "buildkitsandbox\n", "65534\n65533\n", "/dev/null\n", "from-pipes"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "work") || strings.Contains(out, "root\n") {
		t.Errorf("the host's root is visible:\n%s", out)
	}
}

func TestChrootCapabilities(t *testing.T) {
	root := busyboxRoot(t, "proc")
	out, err := run(t, root, "cat /proc/self/status", nil)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	// Docker's default set: no CAP_SYS_ADMIN, no CAP_NET_ADMIN.
	if !strings.Contains(out, "CapBnd:\t00000000a80425fb\n") || !strings.Contains(out, "CapEff:\t00000000a80425fb\n") {
		t.Errorf("capabilities:\n%s", out)
	}
	out, err = run(t, root, "cat /proc/self/status", func(s *Spec) { s.Insecure = true })
	if err != nil || strings.Contains(out, "CapBnd:\t00000000a80425fb\n") {
		t.Errorf("--security=insecure kept the default set: %v\n%s", err, out)
	}
}

func TestChrootExitStatus(t *testing.T) {
	root := busyboxRoot(t)
	_, err := run(t, root, "exit 3", nil)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("err = %v, want exit status 3", err)
	}
	if _, err := run(t, root, "true", func(s *Spec) { s.Args = []string{"no-such-command"} }); err == nil ||
		!strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("missing command: err = %v", err)
	}
}

func TestChrootLeavesNoMountPoints(t *testing.T) {
	root := busyboxRoot(t) // no /proc, /dev, /sys or /etc
	before, _ := os.Stat(root)
	out, err := run(t, root, "cat /etc/hosts; ls /proc/self/ >/dev/null", nil)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "localhost") {
		t.Errorf("/etc/hosts inside the step:\n%s", out)
	}
	for _, p := range []string{"proc", "dev", "sys", "etc"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("/%s was left in the root", p)
		}
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err != nil || strings.Contains(string(mi), root) {
		t.Errorf("a mount under the root is visible on the host (%v)", err)
	}
	after, _ := os.Stat(root)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the root's mtime moved from %v to %v", before.ModTime(), after.ModTime())
	}
}

// TestChrootBindsHostsReadOnly: /etc/hosts and /etc/resolv.conf are the
// step's own copies, bound read-only as BuildKit binds them: a step's
// edit fails, nothing reaches the root, and an image's own files keep
// their content.
func TestChrootBindsHostsReadOnly(t *testing.T) {
	root := busyboxRoot(t)
	if out, err := run(t, root, "echo '10.0.0.1 db' >> /etc/hosts", nil); err == nil || !strings.Contains(out, "Read-only file system") {
		t.Errorf("a write to /etc/hosts: %v\n%s", err, out)
	}
	if out, err := run(t, root, "grep -q localhost /etc/hosts && grep -q buildkitsandbox /etc/hosts", nil); err != nil {
		t.Errorf("/etc/hosts in the step: %v\n%s", err, out)
	}
	for _, p := range []string{"etc/hosts", "etc/resolv.conf", "etc"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("the stub %s was left in the root", p)
		}
	}
	own := busyboxRoot(t, "etc")
	if err := os.WriteFile(filepath.Join(own, "etc/hosts"), []byte("image's own\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, own, "echo '10.0.0.1 db' >> /etc/hosts", nil)
	if data, err := os.ReadFile(filepath.Join(own, "etc/hosts")); err != nil || string(data) != "image's own\n" {
		t.Errorf("etc/hosts = %q, %v", data, err)
	}
}

func TestChrootNetworkNone(t *testing.T) {
	root := busyboxRoot(t, "sys")
	out, err := run(t, root, "ls /sys/class/net", func(s *Spec) { s.Network = "none" })
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "lo" {
		t.Errorf("interfaces with --network=none: %q", out)
	}
}

func TestChrootCancelKillsTheTree(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev")
	marker := "4242" + time.Now().Format("150405")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	spec := &Spec{Root: root, Args: []string{"/bin/sh", "-c", "sleep " + marker + " & sleep " + marker}, Env: []string{"PATH=/bin"}}
	err := (&Chroot{TempDir: t.TempDir()}).Run(ctx, spec)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after cancellation", d)
	}
	// The kernel kills the namespace's processes once its init is gone.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if !processWithArg(marker) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("a process of the cancelled step is still running")
}

func processWithArg(arg string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(data), arg) {
			return true
		}
	}
	return false
}

// TestChrootRemovesSecretCopiesOnFailure: the builder's private copy of a
// secret goes whatever fails: the command, the helper's setup, or the
// preparation of a later mount (it survived once with --keep-work-dir).
func TestChrootRemovesSecretCopiesOnFailure(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev", "blocked/in-the-way")
	for _, tc := range []struct {
		name string
		mod  func(*Spec)
	}{
		{"command missing", func(s *Spec) { s.Args = []string{"no-such-command"} }},
		{"command fails", func(s *Spec) { s.Args = []string{"/bin/sh", "-c", "exit 3"} }},
		{"a later secret cannot be placed", func(s *Spec) {
			s.Secrets = append(s.Secrets, Secret{Target: "/blocked/in-the-way", Data: []byte("second"), Mode: 0o400})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			spec := &Spec{Root: root, Args: []string{"/bin/sh", "-c", "true"}, Env: []string{"PATH=/bin"},
				Secrets: []Secret{{Target: "/run/secrets/token", Data: []byte("s3cr3t"), Mode: 0o400}}}
			tc.mod(spec)
			if err := (&Chroot{TempDir: tmp}).Run(context.Background(), spec); err == nil {
				t.Fatal("Run succeeded")
			}
			left, _ := os.ReadDir(tmp)
			for _, e := range left {
				t.Errorf("left in the temp directory: %s", e.Name())
			}
			if _, err := os.Lstat(filepath.Join(root, "run")); err == nil {
				t.Error("the secret's mount point was left in the root")
			}
		})
	}
}

// TestRunMakesWorkdirAsWritten: a missing working directory is made
// inside the root along the path as written, as runc makes BuildKit's:
// "/a/../b/c" makes /a and /b/c, and the step starts in /b/c.
func TestRunMakesWorkdirAsWritten(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev", "sys", "etc", "tmp", "b")
	out, err := run(t, root, `pwd`, func(s *Spec) { s.Dir = "/a/../b/c/" })
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if out != "/b/c\n" {
		t.Errorf("pwd = %q, want /b/c", out)
	}
	for _, d := range []string{"a", "b/c"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("/%s was not made: %v", d, err)
		}
	}
}
