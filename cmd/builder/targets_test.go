package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRepeatedTarget(t *testing.T) {
	f := parseFlags(t, "--context", t.TempDir(), "-d", "r.example/app:1", "--target", "app=r.example/app:2",
		"--target", "test", "--target", "Lint=r.example/lint:1,r.example/lint:latest")
	bo, po, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	if bo.Target != "app" || !slices.Equal(bo.ExtraTargets, []string{"test", "Lint"}) {
		t.Errorf("target %q extra %v", bo.Target, bo.ExtraTargets)
	}
	if !slices.Equal(po.Destinations, []string{"r.example/app:1", "r.example/app:2"}) {
		t.Errorf("destinations %v", po.Destinations)
	}
	want := map[string][]string{"lint": {"r.example/lint:1", "r.example/lint:latest"}, "test": nil}
	if diff := cmp.Diff(want, f.extraPushes); diff != "" {
		t.Errorf("extra pushes (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"=r.example/x:1", "app="} {
		f := parseFlags(t, "--context", t.TempDir(), "--no-push", "--target", bad)
		if _, _, err := f.options(); err == nil || !strings.Contains(err.Error(), "want NAME or NAME=DEST") {
			t.Errorf("--target %s: %v", bad, err)
		}
	}
}
