package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// GoToolchainLayout returns an OCI layout (image "latest") of this
// machine's busybox and its Go toolchain at /usr/local/go, trimmed to what
// go build needs for programs of the standard library alone (no
// src/cmd, no tests): a golang base for cross-compiling tests, made
// with umoci and kept in DebianCacheDir.
func GoToolchainLayout() (string, error) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	root := strings.TrimSpace(string(goroot))
	version, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", err
	}
	v := strings.Fields(strings.SplitN(string(version), "\n", 2)[0])[0]
	layout := filepath.Join(DebianCacheDir(), "gotool-"+v+"-"+runtime.GOARCH)
	if _, err := os.Stat(filepath.Join(layout, "index.json")); err == nil {
		return layout, nil
	}
	if err := os.MkdirAll(DebianCacheDir(), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(DebianCacheDir(), "gotool-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	rootfs := filepath.Join(tmp, "rootfs")
	bb, err := BusyboxFor(runtime.GOARCH)
	if err != nil {
		return "", err
	}
	list, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return "", err
	}
	if err := busyboxRoot(rootfs, bb, strings.Fields(string(list))); err != nil {
		return "", err
	}
	gorootIn := filepath.Join(rootfs, "usr/local/go")
	if err := os.MkdirAll(gorootIn, 0o755); err != nil {
		return "", err
	}
	tool := "pkg/tool/linux_" + runtime.GOARCH + "/"
	building := layout + ".building"
	os.RemoveAll(building)
	steps := [][]string{{"sh", "-c", fmt.Sprintf(
		"tar -C %s -cf - --exclude=src/cmd --exclude=testdata --exclude='*_test.go' bin/go pkg/include %scompile %slink %sasm src go.env VERSION | tar -C %s -xf -",
		root, tool, tool, tool, gorootIn)}}
	image := building + ":latest"
	steps = append(steps, UmociImage(building, rootfs, "/bin/sh")...)
	steps = append(steps, []string{"umoci", "config", "--image", image,
		"--config.env", "PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--config.env", "GOROOT=/usr/local/go", "--config.env", "GOTOOLCHAIN=local", "--config.env", "GOTELEMETRY=off"})
	steps = append(steps, []string{"mv", building, layout})
	return layout, RunSteps(steps)
}
