package main

import (
	"path/filepath"

	"github.com/buildcrew/builder/internal/testenv"
)

// platformsOf names the workloads built for more than one platform, and
// for which: the builder gets --platform, buildah --platform and
// --manifest.
var platformsOf = map[string]string{"crossplatform": "linux/amd64,linux/arm64", "crossplatform-cached": "linux/amd64,linux/arm64"}

// warmFirst names the workloads whose first run per tool fills caches
// that outlive runs (cache mounts) and is left out of the medians.
var warmFirst = map[string]bool{"crossplatform-cached": true}

// multiPlatformBases pushes what the multi-platform workloads build from
// (a Go toolchain base and a two-platform busybox) and returns their
// build args.
func (e *env) multiPlatformBases() ([]string, error) {
	golang, err := e.golangBase()
	if err != nil {
		return nil, err
	}
	multi := e.registry + "/library/busybox:multi"
	if err := testenv.MakeBusyboxIndex(filepath.Join(e.tmp, "busybox-multi"), multi, "amd64", "arm64"); err != nil {
		return nil, err
	}
	return []string{"--build-arg", "GOLANG=" + golang, "--build-arg", "BUSYBOX_MULTI=" + multi}, nil
}

// golangBase pushes a Go toolchain base made from this machine's Go.
func (e *env) golangBase() (string, error) {
	layout, err := testenv.GoToolchainLayout()
	if err != nil {
		return "", err
	}
	golang := e.registry + "/library/golang:bench"
	return golang, testenv.PushLayout(layout, golang)
}
