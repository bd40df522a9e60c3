package isolation

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The boundary a RUN step meets in chroot isolation, each attack tried
// from inside a step. The end-to-end suite (integration/breakout_test.go)
// tries them through whole builds and checks the host afterwards.

func TestChrootProcAndSysAreReadOnly(t *testing.T) {
	root := busyboxRoot(t, "proc", "sys", "dev")
	for _, tc := range []struct{ name, script string }{
		{"core_pattern", "echo '|/tmp/x' > /proc/sys/kernel/core_pattern"},
		{"sysrq-trigger", "echo h > /proc/sysrq-trigger"},
		{"a sysctl", "echo 1 > /proc/sys/vm/drop_caches"},
		{"sysfs", "echo x > /sys/kernel/uevent_helper"},
		{"remount /proc/sys", "mount -o remount,rw /proc/sys"},
		{"a new proc", "mkdir -p /p && mount -t proc proc /p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := run(t, root, tc.script, nil); err == nil {
				t.Errorf("%q succeeded:\n%s", tc.script, out)
			}
		})
	}
	masked := 0
	for _, f := range []string{"kcore", "keys", "timer_list", "sched_debug", "interrupts"} {
		if _, err := os.Stat("/proc/" + f); err != nil {
			continue // this kernel has none
		}
		masked++
		out, err := run(t, root, "wc -c < /proc/"+f, nil)
		if err != nil || strings.TrimSpace(out) != "0" {
			t.Errorf("/proc/%s is not masked: %v\n%s", f, err, out)
		}
	}
	if masked == 0 {
		t.Error("no masked file of /proc exists here to check")
	}
	out, err := run(t, root, "ls /proc/acpi /sys/firmware; grep ' /proc/sys ' /proc/self/mountinfo", nil)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if !strings.Contains(out, " ro,") {
		t.Errorf("/proc/sys is not mounted read-only:\n%s", out)
	}
	if strings.Contains(out, "tables") || strings.Contains(out, "memmap") {
		t.Errorf("/proc/acpi or /sys/firmware shows entries:\n%s", out)
	}
}

// TestChrootDevices: a node made anywhere in the root (or /dev) opens
// nothing; /dev's own nodes work.
func TestChrootDevices(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev", "tmp")
	for _, script := range []string{
		"mknod /tmp/loop b 7 0 && dd if=/tmp/loop of=/dev/null bs=512 count=1",
		"mknod /tmp/mem c 1 1 && dd if=/tmp/mem of=/dev/null bs=1 count=1",
		"mknod /dev/loop9 b 7 9 && dd if=/dev/loop9 of=/dev/null bs=512 count=1",
		"mknod /tmp/null c 1 3 && echo x > /tmp/null",
	} {
		if out, err := run(t, root, script, nil); err == nil {
			t.Errorf("%q succeeded:\n%s", script, out)
		}
	}
	out, err := run(t, root, "echo x > /dev/null && dd if=/dev/zero of=/dev/null bs=1 count=4 2>/dev/null && dd if=/dev/urandom bs=4 count=1 2>/dev/null | wc -c && ls /dev/pts/ptmx /dev/shm /dev/mqueue", nil)
	if err != nil {
		t.Fatalf("/dev's own nodes: %v\n%s", err, out)
	}
}

// TestChrootSeccomp: Docker's default profile is loaded: no new user or
// mount namespace, no mount, even for root in the step.
func TestChrootSeccomp(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev", "tmp")
	out, err := run(t, root, "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status", nil)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Seccomp:\t2") || !strings.Contains(out, "NoNewPrivs:\t0") {
		t.Errorf("the step is not filtered (or has no_new_privs, which breaks setuid programs):\n%s", out)
	}
	for _, script := range []string{"unshare -U true", "unshare -m true", "unshare -r true", "mount -t tmpfs t /tmp"} {
		if out, err := run(t, root, script, nil); err == nil {
			t.Errorf("%q succeeded:\n%s", script, out)
		}
	}
	// --security=insecure (when allowed) loads none.
	out, err = run(t, root, "grep '^Seccomp:' /proc/self/status; unshare -m true && echo unshared", func(s *Spec) { s.Insecure = true })
	if err != nil || !strings.Contains(out, "Seccomp:\t0") || !strings.Contains(out, "unshared") {
		t.Errorf("insecure step: %v\n%s", err, out)
	}
}

// TestChrootClosesInheritedDescriptors: a directory descriptor the
// builder inherited without close-on-exec never reaches the step.
func TestChrootClosesInheritedDescriptors(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev")
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "host-secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(host, syscall.O_RDONLY|syscall.O_DIRECTORY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	n := strconv.Itoa(fd)
	out, err := run(t, root, "ls /proc/self/fd/; ls /proc/self/fd/"+n+"/ 2>&1; cat /proc/self/fd/"+n+"/host-secret 2>&1; true", nil)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if strings.Contains(out, "host-secret") && !strings.Contains(out, "No such file") {
		t.Errorf("the step reached the inherited descriptor %s:\n%s", n, out)
	}
	for _, f := range strings.Fields(strings.SplitN(out, "ls:", 2)[0]) {
		if f == n {
			t.Errorf("descriptor %s is open in the step:\n%s", n, out)
		}
	}
}

// TestChrootSymlinkSwapsStayInside: a step that replaces the directories
// holding its stubs by symlinks to host directories makes the builder
// neither remove nor re-time anything there.
func TestChrootSymlinkSwapsStayInside(t *testing.T) {
	host := t.TempDir()
	for _, f := range []string{"hosts", "resolv.conf"} {
		if err := os.WriteFile(filepath.Join(host, f), []byte("host's "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(host, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(host)
	if err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{
		// The stubs' directory becomes a link to the host's.
		"mv /etc /etc.old && ln -s " + host + " /etc",
		// A stub itself becomes a link to a host file.
		"mv /etc /etc.old && mkdir /etc && ln -s " + host + "/hosts /etc/hosts && ln -s " + host + "/resolv.conf /etc/resolv.conf",
		// The root's own mount points, replaced after the step's mounts go.
		"ln -s " + host + " /linked",
	} {
		root := busyboxRoot(t) // no /etc, /proc, /dev, /sys: every mount point is a stub
		if out, err := run(t, root, script, nil); err != nil {
			// mv of a mount point fails in the step; that is fine too.
			t.Logf("%q: %v\n%s", script, err, out)
		}
		for _, f := range []string{"hosts", "resolv.conf"} {
			if data, err := os.ReadFile(filepath.Join(host, f)); err != nil || string(data) != "host's "+f {
				t.Errorf("%q: the host's %s changed: %q, %v", script, f, data, err)
			}
		}
		if _, err := os.Stat(filepath.Join(host, "proc")); err != nil {
			t.Errorf("%q: %v", script, err)
		}
		after, err := os.Stat(host)
		if err != nil || !after.ModTime().Equal(before.ModTime()) {
			t.Errorf("%q: the host directory was touched: %v", script, err)
		}
	}
}

// TestChrootPidsLimit: with a pids limit, a step that forks without end
// stops at the limit (busybox's shell gives up at the first failed fork);
// without one, the same 100 processes start.
func TestChrootPidsLimit(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev")
	script := `i=0; while [ $i -lt 100 ]; do sleep 1 & i=$((i+1)); done; echo all-started`
	out, err := (func() (string, error) {
		var buf strings.Builder
		spec := &Spec{Root: root, Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/bin"}, Stdout: &buf, Stderr: &buf}
		err := (&Chroot{TempDir: t.TempDir(), Limits: Limits{Pids: 20}}).Run(context.Background(), spec)
		return buf.String(), err
	})()
	if err == nil || !strings.Contains(out, "can't fork") || strings.Contains(out, "all-started") {
		t.Errorf("with --pids-limit 20: %v\n%s", err, out)
	}
	if out, err := run(t, root, script, nil); err != nil || !strings.Contains(out, "all-started") {
		t.Errorf("without a limit: %v\n%s", err, out)
	}
	// The step's cgroup is gone afterwards.
	h, err := readHierarchies()
	if err != nil {
		t.Fatal(err)
	}
	if dir, ok := h.v1["pids"]; ok {
		if left, _ := filepath.Glob(filepath.Join(dir, "builder-step-*")); len(left) > 0 {
			t.Errorf("cgroups left: %v", left)
		}
	}
}

func TestChrootMemoryLimit(t *testing.T) {
	root := busyboxRoot(t, "proc", "dev", "tmp")
	var buf strings.Builder
	// dd holds its whole block in memory.
	spec := &Spec{Root: root, Args: []string{"/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=256M count=1 && echo done"}, Env: []string{"PATH=/bin"}, Stdout: &buf, Stderr: &buf}
	err := (&Chroot{TempDir: t.TempDir(), Limits: Limits{Memory: 64 << 20}}).Run(context.Background(), spec)
	if err == nil || strings.Contains(buf.String(), "done") {
		t.Errorf("a 256 MiB block under a 64 MiB limit: %v\n%s", err, buf.String())
	}
	if out, err := run(t, root, "dd if=/dev/zero of=/dev/null bs=256M count=1 && echo done", nil); err != nil || !strings.Contains(out, "done") {
		t.Errorf("without a limit: %v\n%s", err, out)
	}
}
