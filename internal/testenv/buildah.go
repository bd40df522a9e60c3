package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Buildah runs Debian's buildah with its storage in a directory of its own
// and the test registry marked insecure.
type Buildah struct {
	env []string
}

// NewBuildah configures buildah to keep everything under dir.
func NewBuildah(dir, registry string) (*Buildah, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	storage := filepath.Join(dir, "storage.conf")
	registries := filepath.Join(dir, "registries.conf")
	files := map[string]string{
		storage: fmt.Sprintf("[storage]\ndriver = \"overlay\"\nrunroot = %q\ngraphroot = %q\n",
			filepath.Join(dir, "run"), filepath.Join(dir, "graph")),
		registries:                        fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", registry),
		filepath.Join(dir, "config.json"): "{}",
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	return &Buildah{env: append(os.Environ(),
		"CONTAINERS_STORAGE_CONF="+storage, "CONTAINERS_REGISTRIES_CONF="+registries,
		"BUILDAH_ISOLATION=chroot", "DOCKER_CONFIG="+dir)}, nil
}

// Build builds ctxDir as ref with one layer per step, without its cache,
// and pushes it.
func (b *Buildah) Build(ctxDir, ref string, args []string) error {
	build := append([]string{"build", "--layers", "--no-cache", "--format", "docker", "--isolation", "chroot",
		"--tls-verify=false", "-t", ref}, args...)
	if err := b.Run(append(build, ctxDir)...); err != nil {
		return err
	}
	return b.Run("push", "--tls-verify=false", ref)
}

// Command is buildah with args, configured.
func (b *Buildah) Command(args ...string) *exec.Cmd {
	cmd := exec.Command("buildah", args...)
	cmd.Env = b.env
	return cmd
}

// Run runs buildah with args.
func (b *Buildah) Run(args ...string) error {
	if out, err := b.Command(args...).CombinedOutput(); err != nil {
		return fmt.Errorf("buildah %s: %v\n%s", strings.Join(args, " "), err, Tail(string(out), 40))
	}
	return nil
}
