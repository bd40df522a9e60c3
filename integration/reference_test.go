package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
)

// reference is a builder the conformance suite compares this one against:
// BuildKit (what `docker build` is) first, buildah 1.28 where it agrees
// with BuildKit. Each has its own list of accepted differences.
type reference struct {
	name  string // "buildkit" or "buildah", as in case options and messages
	known *knownDifferences
	// push builds ctxDir as ref without a cache and pushes it; a failed
	// build is an error.
	push func(ctx context.Context, ctxDir, ref string, args []string) error
}

// references starts every reference builder this machine has, with the
// reason for each one it lacks. Stop them with the returned function.
func references(t *testing.T) (refs []*reference, missing []string, stop func()) {
	t.Helper()
	stop = func() {}
	bin := testenv.BuildKitBinDir()
	if _, err := os.Stat(filepath.Join(bin, "buildkitd")); err != nil {
		missing = append(missing, "BuildKit is not built in "+bin+" (scripts/build-buildkit builds it)")
	} else {
		dir, err := os.MkdirTemp(env.tmp, "buildkit-")
		if err != nil {
			t.Fatal(err)
		}
		bk, err := testenv.StartBuildKit(bin, dir, env.registry)
		if err != nil {
			t.Fatalf("starting BuildKit: %v", err)
		}
		stop = bk.Stop
		refs = append(refs, &reference{name: "buildkit", known: mustLoadKnown(t, "KNOWN_DIFFERENCES.buildkit"), push: bk.Push})
	}
	if _, err := exec.LookPath("buildah"); err != nil {
		missing = append(missing, "buildah is not installed (Debian package buildah)")
	} else {
		bh := newBuildah(t)
		refs = append(refs, &reference{name: "buildah", known: mustLoadKnown(t, "KNOWN_DIFFERENCES"),
			push: func(_ context.Context, ctxDir, ref string, args []string) error { return bh.Build(ctxDir, ref, args) }})
	}
	return refs, missing, stop
}

func mustLoadKnown(t *testing.T, name string) *knownDifferences {
	t.Helper()
	k, err := loadKnown(filepath.Join(conformanceDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
