package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// BuildKitVersion is the buildkit module version in go.mod, whose
// buildkitd and buildctl are the reference builder.
const BuildKitVersion = "v0.34.2"

// BuildKitBinDir is where buildkitd and buildctl of BuildKitVersion are
// kept once built (see ../shared/RECIPES.md, or bench's -buildkit flag):
// $BUILDER_BUILDKIT_DIR, else buildkit/VERSION in the Debian base's cache.
func BuildKitBinDir() string {
	if d := os.Getenv("BUILDER_BUILDKIT_DIR"); d != "" {
		return d
	}
	return filepath.Join(DebianCacheDir(), "buildkit", BuildKitVersion)
}

// BuildKit is a running buildkitd with its state under one directory.
type BuildKit struct {
	bin, sock string
	cmd       *exec.Cmd
	log       bytes.Buffer
}

// StartBuildKit starts buildkitd from bin (holding buildkitd and buildctl)
// with its root in dir, the OCI worker on runc, host networking, and
// registry reachable over plain HTTP. It returns once buildctl gets an
// answer. Stop it with Stop.
func StartBuildKit(bin, dir, registry string) (*BuildKit, error) {
	for _, b := range []string{"buildkitd", "buildctl"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("BuildKit is not built in %s: %w", bin, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "buildkitd.toml")
	conf := fmt.Sprintf("root = %q\n[worker.oci]\n  enabled = true\n  snapshotter = \"overlayfs\"\n[worker.containerd]\n  enabled = false\n[registry.%q]\n  http = true\n  insecure = true\n",
		filepath.Join(dir, "root"), registry)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	bk := &BuildKit{bin: bin, sock: "unix://" + filepath.Join(dir, "buildkitd.sock")}
	bk.cmd = exec.Command(filepath.Join(bin, "buildkitd"), "--config", cfg, "--addr", bk.sock, "--oci-worker-net=host")
	bk.cmd.Stdout, bk.cmd.Stderr = &bk.log, &bk.log
	if err := bk.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := exec.Command(filepath.Join(bin, "buildctl"), "--addr", bk.sock, "debug", "workers").Run(); err == nil {
			return bk, nil
		}
		if time.Now().After(deadline) {
			bk.Stop()
			return nil, fmt.Errorf("buildkitd did not answer within a minute:\n%s", bk.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Build builds ctxDir's Dockerfile with the built-in dockerfile frontend,
// exporting to a local directory (nothing is pushed), with more buildctl
// flags in args. It returns buildctl's output and exit status.
func (bk *BuildKit) Build(ctx context.Context, ctxDir, outDir string, args ...string) (string, int, error) {
	full := append([]string{"--addr", bk.sock, "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + ctxDir, "--local", "dockerfile=" + ctxDir,
		"--output", "type=local,dest=" + outDir, "--no-cache"}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(bk.bin, "buildctl"), full...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode(), nil
	}
	return string(out), 0, err
}

// Stop ends buildkitd.
func (bk *BuildKit) Stop() {
	if bk.cmd != nil && bk.cmd.Process != nil {
		bk.cmd.Process.Kill()
		bk.cmd.Wait()
	}
}
