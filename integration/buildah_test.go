package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildah runs Debian's buildah with its storage in a temporary directory.
type buildah struct {
	env []string
}

func execLook(name string) (string, error) { return exec.LookPath(name) }

func newBuildah(t *testing.T) *buildah {
	t.Helper()
	dir, err := os.MkdirTemp(env.tmp, "buildah-")
	if err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "storage.conf")
	registries := filepath.Join(dir, "registries.conf")
	files := map[string]string{
		storage: fmt.Sprintf("[storage]\ndriver = \"overlay\"\nrunroot = %q\ngraphroot = %q\n",
			filepath.Join(dir, "run"), filepath.Join(dir, "graph")),
		registries:                        fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", env.registry),
		filepath.Join(dir, "config.json"): "{}",
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &buildah{env: append(os.Environ(),
		"CONTAINERS_STORAGE_CONF="+storage, "CONTAINERS_REGISTRIES_CONF="+registries,
		"BUILDAH_ISOLATION=chroot", "DOCKER_CONFIG="+dir)}
}

// build builds ctxDir as ref, one layer per step, and pushes it.
func (b *buildah) build(t *testing.T, ctxDir, ref string, args []string) {
	t.Helper()
	build := append([]string{"build", "--layers", "--no-cache", "--format", "docker", "--isolation", "chroot",
		"--tls-verify=false", "-t", ref}, args...)
	b.run(t, append(build, ctxDir)...)
	b.run(t, "push", "--tls-verify=false", ref)
}

func (b *buildah) run(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("buildah", args...)
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 40))
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
