package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// BuildKitVersion is the buildkit module version in go.mod, whose
// buildkitd and buildctl are the reference builder.
const BuildKitVersion = "v0.34.2"

// BuildKitBinDir is where buildkitd and buildctl of BuildKitVersion are
// kept once built by scripts/build-buildkit:
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

// Push builds ctxDir's Dockerfile without BuildKit's cache and pushes the
// result to ref (a registry given to StartBuildKit). args are this
// builder's and buildah's flags (--build-arg, --target, --platform), which
// become the dockerfile frontend's options. A failed build is an error
// holding buildctl's output.
func (bk *BuildKit) Push(ctx context.Context, ctxDir, ref string, args []string) error {
	_, err := bk.PushOutput(ctx, ctxDir, ref, args)
	return err
}

// PushOutput is Push that also returns buildctl's output (its progress,
// with the Dockerfile's "WARN:" lines).
func (bk *BuildKit) PushOutput(ctx context.Context, ctxDir, ref string, args []string) (string, error) {
	cmd, err := bk.PushCommand(ctx, ctxDir, ref, args)
	if err != nil {
		return "", err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("buildctl build: %w\n%s", err, Tail(string(out), 30))
	}
	return string(out), nil
}

// PushCommand is the buildctl command Push runs, for callers that time it.
func (bk *BuildKit) PushCommand(ctx context.Context, ctxDir, ref string, args []string) (*exec.Cmd, error) {
	opts, err := frontendOptions(args)
	if err != nil {
		return nil, err
	}
	full := append([]string{"--addr", bk.sock, "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + ctxDir, "--local", "dockerfile=" + ctxDir, "--no-cache",
		"--output", "type=image,name=" + ref + ",push=true,registry.insecure=true"}, opts...)
	return exec.CommandContext(ctx, filepath.Join(bk.bin, "buildctl"), full...), nil
}

// Lint runs BuildKit's Dockerfile checks on ctxDir's Dockerfile without
// building: the lint request docker build --check sends, with this
// builder's --build-arg, --target and --platform flags in args. It returns
// what buildctl printed: each warning as "WARNING: Rule - URL", its
// message and "Dockerfile:N" with the lines quoted.
func (bk *BuildKit) Lint(ctx context.Context, ctxDir string, args []string) (string, error) {
	opts, err := frontendOptions(args)
	if err != nil {
		return "", err
	}
	full := append([]string{"--addr", bk.sock, "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + ctxDir, "--local", "dockerfile=" + ctxDir, "--opt", "requestid=frontend.lint"}, opts...)
	out, err := exec.CommandContext(ctx, filepath.Join(bk.bin, "buildctl"), full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("buildctl lint: %w\n%s", err, Tail(string(out), 30))
	}
	return string(out), nil
}

// PeakRSS is buildkitd's peak resident memory so far, in bytes (the
// kernel's VmHWM).
func (bk *BuildKit) PeakRSS() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", bk.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("reading VmHWM %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in buildkitd's status")
}

// frontendOptions turns --build-arg and --target flags into buildctl's
// --opt flags for the dockerfile frontend.
func frontendOptions(args []string) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		name, value, joined := strings.Cut(args[i], "=")
		if !joined {
			if i+1 == len(args) {
				return nil, fmt.Errorf("flag %s has no value", args[i])
			}
			i++
			value = args[i]
		}
		switch name {
		case "--build-arg":
			out = append(out, "--opt", "build-arg:"+value)
		case "--target":
			out = append(out, "--opt", "target="+value)
		case "--platform":
			out = append(out, "--opt", "platform="+value)
		default:
			return nil, fmt.Errorf("flag %s has no BuildKit equivalent here", name)
		}
	}
	return out, nil
}

// Stop ends buildkitd.
func (bk *BuildKit) Stop() {
	if bk.cmd != nil && bk.cmd.Process != nil {
		bk.cmd.Process.Kill()
		bk.cmd.Wait()
	}
}
