package integration

import (
	"context"
	"fmt"
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
	// build is an error. The output is the builder's, where the suite
	// reads the Dockerfile's warnings from (BuildKit's; "" for others).
	push func(ctx context.Context, ctxDir, ref string, args []string) (string, error)
	// lint runs the reference's Dockerfile checks alone (BuildKit's lint
	// request, what docker build --check sends); nil for others.
	lint func(ctx context.Context, ctxDir string, args []string) (string, error)
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
		refs = append(refs, &reference{name: "buildkit", known: mustLoadKnown(t, "KNOWN_DIFFERENCES.buildkit"), push: bk.PushOutput, lint: bk.Lint})
	}
	if _, err := exec.LookPath("buildah"); err != nil {
		missing = append(missing, "buildah is not installed (Debian package buildah)")
	} else {
		bh := newBuildah(t)
		refs = append(refs, &reference{name: "buildah", known: mustLoadKnown(t, "KNOWN_DIFFERENCES"),
			push: func(_ context.Context, ctxDir, ref string, args []string) (string, error) {
				return "", bh.Build(ctxDir, ref, args)
			}})
	}
	refs = append(refs, keptReference(t))
	if _, err := exec.LookPath("runc"); err != nil {
		missing = append(missing, "runc is not installed (Debian package runc): no builds in a Pod")
	} else {
		refs = append(refs, podReference(t))
	}
	return refs, missing, stop
}

// keptReference is this builder with a base layer directory shared by
// every case: roots mounted over kept layers (or stacked from them) must
// give the images that unpacking the bases gives, byte for byte in the
// files, including when cases build at once.
func keptReference(t *testing.T) *reference {
	kept, err := os.MkdirTemp(env.tmp, "kept-")
	if err != nil {
		t.Fatal(err)
	}
	return &reference{name: "kept", known: mustLoadKnown(t, "KNOWN_DIFFERENCES.kept"),
		push: func(ctx context.Context, ctxDir, ref string, args []string) (string, error) {
			config, err := os.MkdirTemp(env.tmp, "docker-config-")
			if err != nil {
				return "", err
			}
			defer os.RemoveAll(config)
			cmd := exec.CommandContext(ctx, env.builder, append([]string{"--context", ctxDir, "--destination", ref, "--cache-dir", kept}, args...)...)
			cmd.Dir = ctxDir
			cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+config)
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("%w\n%s", err, tail(string(out), 30))
			}
			return "", nil
		}}
}

func mustLoadKnown(t *testing.T, name string) *knownDifferences {
	t.Helper()
	k, err := loadKnown(filepath.Join(conformanceDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
