// Package integration builds Dockerfiles with the builder binary, as users
// run it, against a real registry (Debian's docker-registry on loopback) and
// base images made by independent tools, and checks the results with
// independent tools: skopeo, umoci, crane and runc.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildcrew/builder/internal/testenv"
)

// env is what TestMain set up, shared by every test.
var env struct {
	skip     string // why the tests cannot run here; "" when they can
	builder  string // the builder binary
	registry string // host:port of the test registry
	busybox  string // reference of the busybox base image in it
	tmp      string
}

func TestMain(m *testing.M) {
	code := func() int {
		tmp, err := os.MkdirTemp("", "builder-integration-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		env.tmp = tmp
		stop, err := setup(tmp)
		if stop != nil {
			defer stop()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "integration setup:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// tools the tests need, all from Debian's packages except crane.
var tools = []string{"docker-registry", "skopeo", "umoci", "runc", "busybox", "crane", "htpasswd", "openssl"}

func setup(tmp string) (func(), error) {
	if os.Geteuid() != 0 {
		env.skip = "the integration tests need root: RUN uses mount namespaces and runc runs the images"
		return nil, nil
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		// crane comes from go install.
		os.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+filepath.Join(strings.TrimSpace(string(gopath)), "bin"))
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			env.skip = fmt.Sprintf("%s is not installed (run .ci/run, or see README)", t)
			return nil, nil
		}
	}
	env.builder = filepath.Join(tmp, "builder")
	if out, err := exec.Command("go", "build", "-o", env.builder, "../cmd/builder").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the builder: %v\n%s", err, out)
	}
	addr, stop, err := testenv.StartRegistry(filepath.Join(tmp, "registry"), "")
	if err != nil {
		return stop, err
	}
	env.registry = addr
	env.busybox = addr + "/library/busybox:latest"
	if err := testenv.MakeBusybox(filepath.Join(tmp, "busybox"), env.busybox); err != nil {
		return stop, fmt.Errorf("making the busybox base image: %w", err)
	}
	return stop, nil
}

// needs skips a test when the environment cannot run it.
func needs(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}

// result is one run of the builder.
type result struct {
	stdout, stderr string
	code           int
}

// runBuilder runs the builder binary with args, in dir.
func runBuilder(t *testing.T, dir string, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.builder, args...)
	cmd.Dir = dir
	// A fresh DOCKER_CONFIG unless the test gives one (later entries win).
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+t.TempDir()), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running the builder: %v", err)
	}
	return r
}

// mustBuild runs the builder and fails the test unless it succeeds.
func mustBuild(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := runBuilder(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("builder %s: exit %d\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// writeContext makes a build context from a map of file names to contents.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := testenv.WriteFiles(dir, 0o644, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// run runs a command and returns its combined output, failing the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inspect returns skopeo's view of an image in the test registry.
func inspect(t *testing.T, ref string, config bool) map[string]any {
	t.Helper()
	args := []string{"inspect", "--tls-verify=false"}
	if config {
		args = append(args, "--config")
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(run(t, "skopeo", append(args, "docker://"+ref)...)), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// inspectFile returns skopeo's view of an image in a file (a transport:path).
func inspectFile(t *testing.T, transportPath string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(run(t, "skopeo", "inspect", transportPath)), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// runImage pulls ref with skopeo, unpacks it with umoci and runs it with
// runc, with args instead of the image's command when given. It returns the
// output and the exit status.
func runImage(t *testing.T, ref string, args ...string) (string, int) {
	t.Helper()
	return runImageWith(t, ref, func(spec map[string]any) {
		if len(args) > 0 {
			spec["process"].(map[string]any)["args"] = args
		}
	})
}

// runImageWith runs ref under runc like runImage, after mod has changed
// the runtime spec umoci wrote.
func runImageWith(t *testing.T, ref string, mod func(spec map[string]any)) (string, int) {
	t.Helper()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	unpackImage(t, ref, dir, bundle)
	out, code, err := runBundle(context.Background(), bundle, filepath.Join(dir, "runc"), mod)
	if err != nil {
		t.Fatal(err)
	}
	return out, code
}

// unpackImage unpacks ref into a runtime bundle, by way of an OCI layout
// in dir.
func unpackImage(t *testing.T, ref, dir, bundle string) {
	t.Helper()
	layout := filepath.Join(dir, "layout")
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "oci:"+layout+":t")
	run(t, "umoci", "unpack", "--image", layout+":t", bundle)
}

// runBundle runs a runtime bundle under runc (its state in runcRoot),
// after mod has changed its spec, and returns the output and exit code;
// an error only when runc itself could not run.
func runBundle(ctx context.Context, bundle, runcRoot string, mod func(spec map[string]any)) (string, int, error) {
	cfgPath := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", 0, err
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return "", 0, err
	}
	spec["process"].(map[string]any)["terminal"] = false
	mod(spec)
	data, _ = json.Marshal(spec)
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		return "", 0, err
	}
	id := fmt.Sprintf("it-%d", time.Now().UnixNano())
	cmd := exec.CommandContext(ctx, "runc", "--root", runcRoot, "run", "-b", bundle, id)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return string(out), 0, fmt.Errorf("runc: %v\n%s", err, out)
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	return string(out), code, nil
}

// runCmd runs a command and returns its combined output and error.
func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// waitUntil polls cond until it holds, failing the test with what (and
// cond's last error) after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() error) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s: %v", what, within, err)
		}
	}
}
