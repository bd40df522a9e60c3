package integration

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCancelDuringRun sends SIGTERM while a RUN runs: the builder must exit
// 143, kill the step's whole process tree, leave no mount behind and remove
// its work directory.
func TestCancelDuringRun(t *testing.T) {
	needs(t)
	marker := "31" + time.Now().Format("0405")
	dir := writeContext(t, map[string]string{"Dockerfile": dockerfile("FROM {{.Busybox}}\nRUN sleep " + marker + " & sleep " + marker + "\n")})
	work := t.TempDir()
	// Signalled once the step's processes run: on a busy machine the root
	// can still be unpacking long after the step's line.
	running := func() bool { return processWith(marker) }
	stderr, err := interrupt(t, []string{"--context", dir, "--no-push", "--work-dir", work}, "RUN sleep", running, 100*time.Millisecond, syscall.SIGTERM)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Errorf("exit: %v, want status 143", err)
	}
	// Said once, in the last line; the step shows CANCELED, as BuildKit's.
	if n := strings.Count(stderr, "interrupted (SIGTERM)"); n != 1 || !strings.Contains(stderr, "CANCELED") || !strings.HasPrefix(tail(stderr, 1), "error: ") {
		t.Errorf("stderr says interrupted %d times:\n%s", n, stderr)
	}
	deadline := time.Now().Add(3 * time.Second)
	for processWith(marker) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if processWith(marker) {
		t.Error("a process of the cancelled RUN is still running")
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), work) {
		t.Error("a mount under the work directory is left")
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("the work directory still holds %v", entries)
	}
}

// interrupt runs the builder with args, sends sig once a progress line
// containing after has appeared, ready (when not nil) says so within a
// minute, and pause has passed, and returns what it printed on stderr and
// how it ended.
func interrupt(t *testing.T, args []string, after string, ready func() bool, pause time.Duration, sig syscall.Signal) (string, error) {
	t.Helper()
	cmd := exec.Command(env.builder, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), after) {
			break
		}
	}
	if ready != nil {
		t.Cleanup(func() { cmd.Process.Kill() }) // when it never gets ready
		waitUntil(t, time.Minute, fmt.Sprintf("not ready after %q", after), func() error {
			if !ready() {
				return errors.New("not yet")
			}
			return nil
		})
	}
	time.Sleep(pause)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	return strings.Join(lines, "\n") + "\n", err
}

func processWith(arg string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), arg) {
			return true
		}
	}
	return false
}

// TestCancelDuringPush sends SIGINT while the result uploads through a
// slow registry: exit 130, no manifest, the work directory removed.
func TestCancelDuringPush(t *testing.T) {
	needs(t)
	slow := startFaultProxy(t, env.registry, 0, 1)
	slow.delay = 500 * time.Millisecond
	dir := writeContext(t, map[string]string{"Dockerfile": dockerfile("FROM {{.Busybox}}\nRUN head -c 4000000 /dev/urandom > /noise\n")})
	work := t.TempDir()
	dest := slow.host + "/cancelled/app:1"
	// The pause reaches into the upload.
	_, err := interrupt(t, []string{"--context", dir, "--destination", dest, "--insecure-registry", slow.host, "--work-dir", work},
		"exporting to image", nil, 700*time.Millisecond, syscall.SIGINT)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit: %v, want status 130", err)
	}
	if out, err := runCmd("skopeo", "inspect", "--tls-verify=false", "docker://"+env.registry+"/cancelled/app:1"); err == nil {
		t.Errorf("a manifest was pushed: %s", out)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("the work directory still holds %v", entries)
	}
}

// TestKeepWorkDir leaves a failed build's files for a look.
func TestKeepWorkDir(t *testing.T) {
	needs(t)
	dir := writeContext(t, map[string]string{"Dockerfile": dockerfile("FROM {{.Busybox}}\nRUN echo kept > /kept && false\n")})
	work := t.TempDir()
	r := runBuilder(t, dir, nil, "--context", dir, "--no-push", "--work-dir", work, "--keep-work-dir")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (false's status)", r.code)
	}
	kept, _ := filepath.Glob(filepath.Join(work, "builder-*", "roots", "stage-0", "kept"))
	if len(kept) != 1 {
		t.Errorf("the failed stage's root is not in the work directory: %v", kept)
	}
}

// TestFullDisk builds with the work directory on a 2 MiB tmpfs: the build
// fails with one line naming the cause, and nothing is pushed.
func TestFullDisk(t *testing.T) {
	needs(t)
	work := t.TempDir()
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", work); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v %s", err, out)
	}
	defer runCmd("umount", work)
	noise := make([]byte, 4<<20)
	rand.Read(noise)
	dir := writeContext(t, map[string]string{"Dockerfile": dockerfile("FROM {{.Busybox}}\nCOPY big /big\n"), "big": string(noise)})
	dest := env.registry + "/fulldisk/app:1"
	r := runBuilder(t, dir, nil, "--context", dir, "--destination", dest, "--work-dir", work)
	if r.code == 0 {
		t.Fatal("a build on a full disk succeeded")
	}
	last := strings.TrimSpace(tail(r.stderr, 1))
	if !strings.HasPrefix(last, "error: Dockerfile:2: COPY big /big: ") || !strings.Contains(last, "no space left on device") || !strings.Contains(last, work) {
		t.Errorf("last line %q: want one error line naming the step, the directory and the full disk", last)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), work+"/") {
		t.Errorf("mounts left under the work directory:\n%s", mounts)
	}

	// Filled by a RUN step on its overlay: the step fails, and its
	// overlay is unmounted.
	dir = writeContext(t, map[string]string{"Dockerfile": dockerfile("FROM {{.Busybox}}\nRUN dd if=/dev/zero of=/fill bs=1024 count=4096\n")})
	r = runBuilder(t, dir, nil, "--context", dir, "--destination", dest, "--work-dir", work)
	if last := strings.TrimSpace(tail(r.stderr, 1)); r.code == 0 || !strings.HasPrefix(last, "error: Dockerfile:2: RUN dd") || !strings.Contains(r.stderr, "No space left on device") {
		t.Errorf("exit %d, last line %q: want the RUN step named and the command's own complaint", r.code, last)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), work+"/") {
		t.Errorf("mounts left under the work directory after RUN:\n%s", mounts)
	}
	if out, err := runCmd("skopeo", "inspect", "--tls-verify=false", "docker://"+dest); err == nil {
		t.Errorf("something was pushed: %s", out)
	}
}

// TestCacheStoresFull: the stores that outlive a build (--cache-dir, an
// oci: step cache, cache mounts) on a 1 MiB tmpfs. The build goes on
// without keeping what does not fit, says so once per store, leaves no
// half-written file, and a second build on the same stores succeeds with
// the same image.
func TestCacheStoresFull(t *testing.T) {
	needs(t)
	stores := t.TempDir()
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", stores); err != nil {
		t.Skipf("cannot mount a small tmpfs: %v %s", err, out)
	}
	defer runCmd("umount", stores)
	noise := make([]byte, 3<<20)
	rand.Read(noise)
	dir := writeContext(t, map[string]string{"Dockerfile": dockerfile("FROM {{.Busybox}}\nCOPY big /big\nRUN echo hi > /hi\n"), "big": string(noise)})
	dest := env.registry + "/storesfull/app"
	args := func(tag string) []string {
		return []string{"--context", dir, "--destination", dest + ":" + tag, "--reproducible", "--cache",
			"--cache-repo", "oci:" + filepath.Join(stores, "steps"), "--cache-dir", filepath.Join(stores, "layers"),
			"--cache-mount-dir", filepath.Join(stores, "mounts")}
	}
	r := mustBuild(t, dir, args("1")...)
	for _, warning := range []string{"the base layer directory", "writing the cache"} {
		if n := strings.Count(r.stderr, warning); n != 1 {
			t.Errorf("%q said %d times, want once:\n%s", warning, n, r.stderr)
		}
	}
	if out := run(t, "find", stores, "-name", ".*"); strings.TrimSpace(out) != "" {
		t.Errorf("half-written files left in the stores:\n%s", out)
	}
	p := fetch(t, dest+":1")
	for _, f := range []string{"/big", "/hi"} {
		if _, ok := p.tree[f]; !ok {
			t.Errorf("%s missing from the image", f)
		}
	}
	mustBuild(t, dir, args("2")...)
	if a, b := inspect(t, dest+":1", false)["Digest"], inspect(t, dest+":2", false)["Digest"]; a != b {
		t.Errorf("the second build on the full stores gave %v, the first %v", b, a)
	}
}
