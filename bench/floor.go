package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// usesDebian tells whether workload w builds on the Debian base, whose
// unpacking is the floor of its cold builds.
func usesDebian(dir string) bool {
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	return err == nil && strings.Contains(string(df), "$DEBIAN")
}

// unpackFloor times GNU tar unpacking the layers of the OCI layout's
// image into a fresh directory, after a sync like every build: the least
// any builder pays to have the base's files.
func (e *env) unpackFloor(layout string) (time.Duration, error) {
	blobs, err := layoutLayers(layout)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp(e.tmp, "floor-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	syscall.Sync()
	start := time.Now()
	for _, b := range blobs {
		if out, err := exec.Command("tar", "-xzf", b, "-C", dir, "--numeric-owner").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("tar -xzf %s: %v: %s", b, err, out)
		}
	}
	return time.Since(start), nil
}

// layoutLayers lists the layer blobs of the first image of an OCI layout.
func layoutLayers(layout string) ([]string, error) {
	blob := func(digest string) string {
		return filepath.Join(layout, "blobs", strings.Replace(digest, ":", "/", 1))
	}
	var index struct{ Manifests []struct{ Digest string } }
	data, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &index); err != nil || len(index.Manifests) == 0 {
		return nil, fmt.Errorf("%s: no image in index.json (%v)", layout, err)
	}
	var manifest struct{ Layers []struct{ Digest string } }
	if data, err = os.ReadFile(blob(index.Manifests[0].Digest)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		return nil, err
	}
	var out []string
	for _, l := range manifest.Layers {
		out = append(out, blob(l.Digest))
	}
	return out, nil
}
