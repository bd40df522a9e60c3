package isolation

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runNone runs a shell script on this machine with isolation none.
func runNone(ctx context.Context, t *testing.T, script string, mod func(*Spec)) (string, error) {
	t.Helper()
	var out bytes.Buffer
	spec := &Spec{Root: "/", Args: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin", "GREETING=hi"},
		Dir: t.TempDir(), UID: uint32(os.Geteuid()), GID: uint32(os.Getegid()), Stdout: &out, Stderr: &out}
	if mod != nil {
		mod(spec)
	}
	err := None{}.Run(ctx, spec)
	return out.String(), err
}

func TestNoneRunsInPlace(t *testing.T) {
	out, err := runNone(context.Background(), t, `echo "$GREETING from $(pwd)"; touch made`, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "hi from /") {
		t.Errorf("output %q: want the environment and working directory given", out)
	}
}

// TestNoneMakesWorkdir: a missing working directory is made along the
// path as written, as the chroot helper and runc make it.
func TestNoneMakesWorkdir(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := runNone(context.Background(), t, "pwd", func(s *Spec) { s.Dir = base + "/a/../b/c" })
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, d := range []string{"a", "b/c"} {
		if fi, err := os.Stat(filepath.Join(base, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s was not made: %v", d, err)
		}
	}
}

func TestNoneExitStatus(t *testing.T) {
	_, err := runNone(context.Background(), t, "exit 7", nil)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("err = %v, want exit status 7", err)
	}
}

func TestNoneScriptFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writing to /dev/pipes needs root")
	}
	out, err := runNone(context.Background(), t, "sh "+PipesDir+"/script", func(s *Spec) {
		s.Files = map[string][]byte{"script": []byte("echo from the script\n")}
	})
	if err != nil || out != "from the script\n" {
		t.Fatalf("out %q, err %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(PipesDir, "script")); !os.IsNotExist(err) {
		t.Errorf("the script outlived the step: %v", err)
	}
}

func TestNoneCancelKillsTheProcessGroup(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(errors.New("stop")) })
	start := time.Now()
	_, err := runNone(ctx, t, "sleep 30 & sleep 30; wait", nil)
	if err == nil || err.Error() != "stop" {
		t.Errorf("err = %v, want the cancellation's cause", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancelling took %v", took)
	}
}

func TestNoneRefuses(t *testing.T) {
	for name, mod := range map[string]func(*Spec){
		"another root": func(s *Spec) { s.Root = t.TempDir() },
		"network none": func(s *Spec) { s.Network = "none" },
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := runNone(context.Background(), t, "true", mod); err == nil {
				t.Error("ran; want a refusal")
			}
		})
	}
}

func TestMountPoints(t *testing.T) {
	info := `22 1 0:21 / / rw,relatime - overlay overlay rw
23 22 0:22 / /proc rw - proc proc rw
24 22 0:5 /etc/hosts /etc/hosts rw - ext4 /dev/sda1 rw
25 22 0:30 / /my\040volume rw - tmpfs tmpfs rw
`
	got, err := mountPoints(strings.NewReader(info))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/proc", "/etc/hosts", "/my volume"}, got); diff != "" {
		t.Errorf("mount points (-want +got):\n%s", diff)
	}
	if _, err := mountPoints(strings.NewReader("bad line\n")); err == nil {
		t.Error("a malformed line was accepted")
	}
}

func TestNoneSecrets(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "run", "secrets", "token")
	out, err := runNone(context.Background(), t, `cat "$1"; stat -c %a "$1"`, func(s *Spec) {
		s.Args = append(s.Args, "sh", target)
		s.Secrets = []Secret{{Target: target, Data: []byte("value\n"), Mode: 0o400, UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}}
	})
	if err != nil || out != "value\n400\n" {
		t.Fatalf("out %q, err %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !os.IsNotExist(err) {
		t.Errorf("the secret's directories outlived the step: %v", err)
	}
}

// TestNoneGroups: the step gets exactly the spec's supplementary groups,
// whatever the builder's process has (a Pod's runtime gives it none), as
// chroot isolation and BuildKit give them.
func TestNoneGroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting supplementary groups needs root")
	}
	for _, tc := range []struct {
		name   string
		groups []uint32
		want   string
	}{
		{"root's own", []uint32{0}, "0"},
		{"several", []uint32{0, 27, 100}, "0 27 100"},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runNone(context.Background(), t, "grep '^Groups:' /proc/self/status", func(s *Spec) {
				s.UID, s.GID, s.Groups = 0, 0, tc.groups
			})
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := strings.Join(strings.Fields(strings.TrimPrefix(out, "Groups:")), " "); got != tc.want {
				t.Errorf("groups %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNoneEndsWhatTheStepLeft: a process the step leaves running (a
// background job, a daemon in a session of its own) ends with the step,
// as when the step's PID namespace ends in chroot isolation and BuildKit;
// left alone it would write into the next steps' files.
func TestNoneEndsWhatTheStepLeft(t *testing.T) {
	dir := t.TempDir()
	script := `(sleep 0.5; echo late > "$OUT/job") > /dev/null 2>&1 &
setsid sh -c 'sleep 0.5; echo late > "$OUT/daemon"' > /dev/null 2>&1 < /dev/null &
sh -c '(sleep 0.5; echo late > "$OUT/orphan") &' > /dev/null 2>&1
echo started`
	out, err := runNone(context.Background(), t, script, func(s *Spec) { s.Env = append(s.Env, "OUT="+dir) })
	if err != nil || out != "started\n" {
		t.Fatalf("%v\n%s", err, out)
	}
	time.Sleep(1500 * time.Millisecond)
	for _, name := range []string{"job", "daemon", "orphan"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("the %s the step left wrote after the step ended", name)
		}
	}
}
