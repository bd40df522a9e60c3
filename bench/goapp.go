package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// goappContext makes the goapp workload's context: the repository's Go
// sources as committed (git archive of HEAD) with the workload's
// Dockerfile, and starts the module proxy its RUN steps reach. It returns
// the context, the build args to add, and what stops the proxy.
func (e *env) goappContext(workload string) (string, []string, func(), error) {
	dir := filepath.Join(e.tmp, "goapp-context")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, nil, err
	}
	archive := exec.Command("git", "archive", "--format=tar", "HEAD", "go.mod", "go.sum", "cmd", "pkg", "internal")
	var tarball bytes.Buffer
	archive.Stdout = &tarball
	if err := archive.Run(); err != nil {
		return "", nil, nil, fmt.Errorf("git archive of the repository (run from its root): %w", err)
	}
	unpack := exec.Command("tar", "-x", "-C", dir)
	unpack.Stdin = &tarball
	if out, err := unpack.CombinedOutput(); err != nil {
		return "", nil, nil, fmt.Errorf("unpacking the sources: %v\n%s", err, out)
	}
	df, err := os.ReadFile(filepath.Join(workload, "Dockerfile"))
	if err != nil {
		return "", nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), df, 0o644); err != nil {
		return "", nil, nil, err
	}
	upstream, err := moduleProxy()
	if err != nil {
		return "", nil, nil, err
	}
	served, stop, err := countingProxy(upstream)
	if err != nil {
		return "", nil, nil, err
	}
	golang, err := e.golangBase()
	if err != nil {
		stop()
		return "", nil, nil, err
	}
	return dir, []string{"--build-arg", "GOLANG=" + golang, "--build-arg", "GOPROXY=" + served.url}, stop, nil
}
