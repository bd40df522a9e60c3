package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/buildcrew/builder/internal/testenv"
)

// buildKit runs BuildKit itself beside the builder: a cold daemon per
// build (an empty root, started before the timed build and not timed) and
// a warm one that keeps the bases it pulled once (its steps rebuilt with
// --no-cache, as are the cold daemon's).
type buildKit struct {
	bin, tmp, registry string
	warm               *testenv.BuildKit
	warmed             map[string]bool // workloads the warm daemon has built once
}

// startBuildKit starts the warm daemon, or says why BuildKit is left out.
func startBuildKit(tmp, registry string) (*buildKit, string) {
	bin := testenv.BuildKitBinDir()
	if _, err := os.Stat(filepath.Join(bin, "buildkitd")); err != nil {
		return nil, "BuildKit is not built in " + bin + " (scripts/build-buildkit)"
	}
	warm, err := testenv.StartBuildKit(bin, filepath.Join(tmp, "buildkit-warm"), registry)
	if err != nil {
		return nil, err.Error()
	}
	return &buildKit{bin: bin, tmp: tmp, registry: registry, warm: warm, warmed: map[string]bool{}}, ""
}

func (b *buildKit) stop() { b.warm.Stop() }

// cold builds and pushes with a daemon that has nothing: the build's i
// names its root.
func (b *buildKit) cold(dir, ref string, args []string, i int) (measure, error) {
	root := filepath.Join(b.tmp, fmt.Sprintf("buildkit-cold-%d", i))
	defer os.RemoveAll(root)
	bk, err := testenv.StartBuildKit(b.bin, root, b.registry)
	if err != nil {
		return measure{}, err
	}
	defer bk.Stop()
	return timedBuildKit(bk, dir, ref, args)
}

// warmBuild builds and pushes with the warm daemon, after one untimed
// build of the workload that pulls its bases.
func (b *buildKit) warmBuild(name, dir, ref string, args []string) (measure, error) {
	if !b.warmed[name] {
		if err := b.warm.Push(context.Background(), dir, ref, args); err != nil {
			return measure{}, fmt.Errorf("warming up: %w", err)
		}
		b.warmed[name] = true
	}
	return timedBuildKit(b.warm, dir, ref, args)
}

// timedBuildKit times one buildctl build and push; the RSS is the
// daemon's peak so far.
func timedBuildKit(bk *testenv.BuildKit, dir, ref string, args []string) (measure, error) {
	cmd, err := bk.PushCommand(context.Background(), dir, ref, args)
	if err != nil {
		return measure{}, err
	}
	m, _, err := timed(cmd)
	if rss, rerr := bk.PeakRSS(); rerr == nil {
		m.rssMB = rss >> 20
	}
	return m, err
}
