package integration

import (
	"os"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
)

// buildah is the reference builder, with its storage under the run's
// temporary directory.
type buildah struct{ *testenv.Buildah }

func newBuildah(t *testing.T) *buildah {
	t.Helper()
	dir, err := os.MkdirTemp(env.tmp, "buildah-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := testenv.NewBuildah(dir, env.registry)
	if err != nil {
		t.Fatal(err)
	}
	return &buildah{b}
}

// build builds ctxDir as ref, one layer per step, and pushes it.
func (b *buildah) build(t *testing.T, ctxDir, ref string, args []string) {
	t.Helper()
	if err := b.Build(ctxDir, ref, args); err != nil {
		t.Fatal(err)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string { return testenv.Tail(s, n) }
