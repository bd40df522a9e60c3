package isolation

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/buildcrew/builder/internal/filecopy"
)

// TestCanNamespace: root can make a step's namespaces; a user without
// CAP_SYS_ADMIN cannot, and the error says so. The second half runs
// this test binary again as nobody.
func TestCanNamespace(t *testing.T) {
	if os.Getenv("BUILDER_PROBE_CHILD") == "1" {
		err := CanNamespace()
		switch {
		case errors.Is(err, ErrNoNamespaces):
			os.Exit(3)
		case err == nil:
			os.Exit(0)
		}
		os.Exit(4)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the probe is compared as root and as nobody")
	}
	if err := CanNamespace(); err != nil {
		t.Fatalf("as root: %v", err)
	}
	dir, err := os.MkdirTemp("", "probe-") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "probe.test")
	if err := filecopy.Content(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	os.Chmod(bin, 0o755)
	cmd := exec.Command(bin, "-test.run=^TestCanNamespace$")
	cmd.Env = append(os.Environ(), "BUILDER_PROBE_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("as nobody: %v, want exit 3 (ErrNoNamespaces)", err)
	}
	if err := startError(syscall.EPERM); !errors.Is(err, ErrNoNamespaces) {
		t.Errorf("a helper refused with EPERM: %v, want ErrNoNamespaces", err)
	}
}
