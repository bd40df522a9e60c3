package build

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestDryRun plans without building: the stages the target needs, in
// order, their bases (an image by digest) and steps; nothing is written
// to the work directory, and a build's early errors come out.
func TestDryRun(t *testing.T) {
	host := testRegistry(t)
	ref := host + "/base:1"
	pushImage(t, ref, v1.Config{}, amd64, layerOf(t, file{name: "f", body: "x"}))
	df := "FROM " + ref + ` AS build
RUN make
FROM scratch AS unused
COPY nothing /
FROM build
COPY --from=build /out /out
`
	dir, work := t.TempDir(), t.TempDir()
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": df}); err != nil {
		t.Fatal(err)
	}
	plan, err := DryRun(context.Background(), Options{ContextDir: dir, WorkDir: work, Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Stages) != 2 || !strings.HasPrefix(plan.Stages[0].Base, ref+"@sha256:") || plan.Stages[1].Base != "stage build" {
		t.Fatalf("plan = %+v", plan)
	}
	want := [][]string{{"RUN make"}, {"COPY --from=build /out /out"}}
	got := [][]string{plan.Stages[0].Steps, plan.Stages[1].Steps}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("a dry run wrote %v to the work directory", left)
	}
	for _, bad := range []string{"FROM " + host + "/missing:1\nRUN true\n", "FROM scratch\nRUN --device=gpu true\n"} {
		if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": bad}); err != nil {
			t.Fatal(err)
		}
		if _, err := DryRun(context.Background(), Options{ContextDir: dir, WorkDir: work}); err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:") {
			t.Errorf("%q: err = %v, want one with its location", bad, err)
		}
	}
}

// TestDryRunPlatforms plans each platform, its base resolved from the
// base's index.
func TestDryRunPlatforms(t *testing.T) {
	host := testRegistry(t)
	ref := host + "/base:multi"
	pushPlatforms(t, ref, amd64, arm64)
	dir := t.TempDir()
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": "FROM " + ref + "\nCOPY f /f\n"}); err != nil {
		t.Fatal(err)
	}
	plan, err := DryRun(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir(), Platforms: []string{"linux/amd64", "linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Stages) != 2 || plan.Stages[0].Platform != "linux/amd64" || plan.Stages[1].Platform != "linux/arm64" ||
		!strings.HasSuffix(plan.Stages[1].Base, "(linux/arm64, 1 layers)") || plan.Stages[0].Base == plan.Stages[1].Base {
		t.Fatalf("plan = %+v", plan)
	}
}
