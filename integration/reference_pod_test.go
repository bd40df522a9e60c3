package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// podReference is this builder's own image run the way a Kubernetes Pod
// runs it (see asPod): isolation none, building at / of its container,
// as kaniko's users build. Its images must be the ones chroot isolation
// gives, which the suite holds to BuildKit.
func podReference(t *testing.T) *reference {
	t.Helper()
	dir, err := os.MkdirTemp(env.tmp, "pod-image-")
	if err != nil {
		t.Fatal(err)
	}
	p := pod{image: filepath.Join(dir, "bundle")}
	unpackImage(t, selfImage(t, "image"), dir, p.image)
	return &reference{name: "pod", known: mustLoadKnown(t, "KNOWN_DIFFERENCES.pod"), push: p.build}
}

// pod builds in a fresh copy of the builder's image, unpacked once, as
// each Pod starts from a fresh root.
type pod struct{ image string }

func (p pod) build(ctx context.Context, ctxDir, ref string, args []string) (string, error) {
	scratch, err := os.MkdirTemp(env.tmp, "pod-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	bundle := filepath.Join(scratch, "bundle")
	if out, err := exec.CommandContext(ctx, "cp", "-a", p.image, bundle).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copying the builder's image: %v: %s", err, out)
	}
	args = append([]string{"/kaniko/executor", "--context", "dir:///workspace", "--destination", ref}, args...)
	out, code, err := runBundle(ctx, bundle, filepath.Join(scratch, "runc"), asPod(args, ctxDir))
	if err == nil && code != 0 {
		err = fmt.Errorf("the builder in a Pod: exit %d\n%s", code, tail(out, 30))
	}
	return out, err
}
