package build

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestCheck runs the checks without building: every stage without a
// target (an unused one included), the target's with one; the checks that
// need the base's config and the variables in scope run, RUN commands do
// not, and nothing is written.
func TestCheck(t *testing.T) {
	reg := testRegistry(t)
	pushImage(t, reg+"/shell:1", v1.Config{Shell: []string{"/bin/bash", "-c"}, Env: []string{"FROMIMAGE=1"}}, v1.Platform{OS: "linux", Architecture: "amd64"}, layerOf(t, file{name: "b", body: "b"}))
	df := `FROM ` + reg + `/shell:1 AS sh
CMD echo fine
ENV A=$FROMIMAGE B=$NOTSET
RUN exit 1
FROM scratch as unused
WORKDIR rel
COPY --from=sh /b /$MISSING
FROM scratch
ARG X=$UNSETTOO
COPY ignored /
CMD echo hi
`
	dir := t.TempDir()
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": df, "ignored": "x", ".dockerignore": "ignored\n"}); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "work")
	check := func(target string) []string {
		t.Helper()
		res, err := Check(context.Background(), Options{ContextDir: dir, WorkDir: work, Target: target})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range res.Warnings {
			got = append(got, w.String())
		}
		if string(res.Dockerfile) != df {
			t.Errorf("the Dockerfile checked is %q", res.Dockerfile)
		}
		return got
	}
	all := []string{
		"Dockerfile:5: FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
		"Dockerfile:6: WorkdirRelativePath: Relative workdir \"rel\" can have unexpected results if the base image changes",
		"Dockerfile:11: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
		"Dockerfile:3: UndefinedVar: Usage of undefined variable '$NOTSET'",
		"Dockerfile:7: UndefinedVar: Usage of undefined variable '$MISSING'",
		"Dockerfile:9: UndefinedVar: Usage of undefined variable '$UNSETTOO'",
		"Dockerfile:10: CopyIgnoredFile: Attempting to Copy file \"ignored\" that is excluded by .dockerignore",
	}
	if diff := cmp.Diff(all, check("")); diff != "" {
		t.Errorf("every stage's warnings (-want +got):\n%s", diff)
	}
	want := []string{
		"Dockerfile:5: FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
		"Dockerfile:3: UndefinedVar: Usage of undefined variable '$NOTSET'",
	}
	if diff := cmp.Diff(want, check("sh")); diff != "" {
		t.Errorf("the target's warnings (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("a check made the work directory: %v", err)
	}
}

// TestCheckError: a check that cannot go on (a --from naming nothing)
// fails, with the warnings found before it.
func TestCheckError(t *testing.T) {
	dir := t.TempDir()
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": "FROM scratch as a\nCOPY --from=127.0.0.1:1/none:1 /x /x\n"}); err != nil {
		t.Fatal(err)
	}
	res, err := Check(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir()})
	if err == nil {
		t.Fatal("a check with an image that cannot be pulled passed")
	}
	if res == nil || len(res.Warnings) != 1 || res.Warnings[0].Rule != "FromAsCasing" {
		t.Errorf("warnings before the error: %+v", res)
	}
}

// TestCheckTriggers: a check of every stage runs a base's ONBUILD
// triggers only in the stages the last one needs, as BuildKit's does (its
// lint request sets them up from the default target).
func TestCheckTriggers(t *testing.T) {
	dir := t.TempDir()
	df := "FROM scratch AS base\nONBUILD ENV X=$UNDEF\nFROM base AS other\nFROM base AS last\n"
	if err := testenv.WriteFiles(dir, 0o644, map[string]string{"Dockerfile": df}); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string][]string{
		"":      {"Dockerfile:4: UndefinedVar: Usage of undefined variable '$UNDEF'"},
		"other": {"Dockerfile:3: UndefinedVar: Usage of undefined variable '$UNDEF'"},
	} {
		res, err := Check(context.Background(), Options{ContextDir: dir, Target: target})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range res.Warnings {
			got = append(got, w.String())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("target %q (-want +got):\n%s", target, diff)
		}
	}
}
