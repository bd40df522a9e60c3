package build

import (
	"bytes"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestLintWarnings: BuildKit's checks of the file are warnings in the
// progress, each naming its line and rule in BuildKit's words, whether
// found before the build (the FROM lines) or as a step is dispatched (a
// variable nothing set, a shell-form CMD on an image without a SHELL).
func TestLintWarnings(t *testing.T) {
	reg := testRegistry(t)
	pushImage(t, reg+"/base:1", v1.Config{}, v1.Platform{OS: "linux", Architecture: "amd64"}, layerOf(t, file{name: "b", body: "b"}))
	pushImage(t, reg+"/arm:1", v1.Config{}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, layerOf(t, file{name: "b", body: "b"}))
	pushImage(t, reg+"/shell:1", v1.Config{Shell: []string{"/bin/bash", "-c"}}, v1.Platform{OS: "linux", Architecture: "amd64"}, layerOf(t, file{name: "b", body: "b"}))
	df := `FROM scratch${SUFFIX} AS a
COPY f /f
FROM scratch AS A
COPY f /g
FROM ` + reg + `/shell:1 AS sh
CMD echo fine
FROM ` + reg + `/arm:1 AS arm
COPY f /f
FROM ` + reg + `/base:1
ARG DECLARED
ARG FROMUNSET=$NOPE
ENV PATHH=1
COPY --from=a /g /$DECLARED$PAHT
CMD echo hi
`
	var plain bytes.Buffer
	_, err := buildIn(t, df, map[string]string{"f": "x"}, func(o *Options) {
		o.Progress = &plain
		o.ExtraTargets = []string{"sh", "arm"}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`[Warning] Dockerfile:1: UndefinedArgInFrom: FROM argument 'SUFFIX' is not declared`,
		`[Warning] Dockerfile:3: DuplicateStageName: Duplicate stage name "a", stage names should be unique`,
		`[Warning] Dockerfile:11: UndefinedVar: Usage of undefined variable '$NOPE'`,
		`[Warning] Dockerfile:13: UndefinedVar: Usage of undefined variable '$PAHT' (did you mean $PATH?)`,
		`[Warning] Dockerfile:7: InvalidBaseImagePlatform: Base image ` + reg + `/arm:1 was pulled with platform "linux/arm64", expected "linux/amd64" for current build`,
		`[Warning] Dockerfile:14: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals`,
	} {
		if !strings.Contains(plain.String(), want+"\n") {
			t.Errorf("no %q in the progress:\n%s", want, plain.String())
		}
	}
	if n := strings.Count(plain.String(), "'$NOPE'"); n != 1 {
		t.Errorf("the ARG default's undefined variable warned %d times:\n%s", n, plain.String())
	}
	for _, not := range []string{"'$DECLARED'", "Dockerfile:6:"} {
		if strings.Contains(plain.String(), not) {
			t.Errorf("warned of %s:\n%s", not, plain.String())
		}
	}
}

// TestLintError: with "# check=error=true" a check found before the
// build fails it before any step runs; one found as a step is dispatched
// fails it there, so nothing is pushed.
func TestLintError(t *testing.T) {
	var plain bytes.Buffer
	_, err := buildIn(t, "# check=error=true\nFROM scratch as a\nRUN false\n", map[string]string{}, func(o *Options) { o.Progress = &plain })
	if err == nil || err.Error() != "Dockerfile:2: lint violation found for rules: FromAsCasing" {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(plain.String(), "RUN false") {
		t.Errorf("a step ran:\n%s", plain.String())
	}
	_, err = buildIn(t, "# check=error=true\nFROM scratch\nCOPY f /$F\nCOPY f /g\n", map[string]string{"f": "x"}, func(o *Options) { o.Progress = &plain })
	if err == nil || !strings.Contains(err.Error(), "lint violation found for rules: UndefinedVar") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(plain.String(), "COPY f /g") {
		t.Errorf("the build went on after the failed check:\n%s", plain.String())
	}
	// The build arg turns the failure off, as in BuildKit.
	if _, err := buildIn(t, "# check=error=true\nFROM scratch as a\n", map[string]string{}, func(o *Options) {
		o.BuildArgs = map[string]string{"BUILDKIT_DOCKERFILE_CHECK": "error=false"}
	}); err != nil {
		t.Errorf("with the build arg: %v", err)
	}
}

// TestCheckCommentAboveInstruction: a "# check=skip=..." comment above an
// instruction skips the rule there, and builds (it panicked in BuildKit's
// parser, given a zero linter).
func TestCheckCommentAboveInstruction(t *testing.T) {
	var plain bytes.Buffer
	df := "FROM scratch\n# check=skip=JSONArgsRecommended\nCMD echo hi\nCMD echo two\n"
	if _, err := buildIn(t, df, map[string]string{}, func(o *Options) { o.Progress = &plain }); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "Dockerfile:3: JSONArgsRecommended") || !strings.Contains(plain.String(), "Dockerfile:4: JSONArgsRecommended") {
		t.Errorf("progress:\n%s", plain.String())
	}
}

// TestForeignSyntaxWarns: a # syntax= line naming another frontend is
// said to be ignored; docker/dockerfile is this builder's own syntax.
func TestForeignSyntaxWarns(t *testing.T) {
	for df, want := range map[string]bool{
		"# syntax=docker/dockerfile:1-labs\nFROM scratch\n": true,
		"# syntax=docker/dockerfile:1\nFROM scratch\n":      false,
	} {
		var plain bytes.Buffer
		if _, err := buildIn(t, df, map[string]string{}, func(o *Options) { o.Progress = &plain }); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(plain.String(), "[Warning] Dockerfile: the # syntax= line names docker/dockerfile:1-labs"); got != want {
			t.Errorf("%q: warned %v:\n%s", df, got, plain.String())
		}
	}
}

// TestCopyIgnoredFile: a COPY or ADD from the context naming what
// .dockerignore leaves out gets BuildKit's warning; not where
// .dockerignore has exceptions, nor for COPY --from.
func TestCopyIgnoredFile(t *testing.T) {
	for _, tc := range []struct {
		ignore string
		warned bool
	}{{"*.log\n", true}, {"*.log\n!keep.log\n", false}} {
		var plain bytes.Buffer
		df := "FROM scratch AS a\nCOPY f /f\nFROM scratch\nCOPY *.log /logs/\nCOPY --from=a *.log /x/\n"
		files := map[string]string{"f": "x", "app.log": "l", ".dockerignore": tc.ignore}
		if _, err := buildIn(t, df, files, func(o *Options) { o.Progress = &plain }); err != nil {
			t.Fatal(err)
		}
		want := `[Warning] Dockerfile:4: CopyIgnoredFile: Attempting to Copy file "*.log" that is excluded by .dockerignore`
		if got := strings.Contains(plain.String(), want); got != tc.warned || strings.Count(plain.String(), "CopyIgnoredFile") > 1 {
			t.Errorf(".dockerignore %q: warned %v:\n%s", tc.ignore, got, plain.String())
		}
	}
}
