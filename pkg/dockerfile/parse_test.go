package dockerfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, src string) *Dockerfile {
	t.Helper()
	df, err := Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return df
}

func TestParseStages(t *testing.T) {
	df := mustParse(t, `ARG BASE=busybox
FROM $BASE AS Build
RUN echo hi
COPY --from=0 /a /b
FROM scratch
COPY --from=build /x /y
RUN --mount=type=cache,target=/c --mount=type=bind,from=build,target=/b --mount=from=img:1,target=/i,type=cache true
`)
	if got, want := len(df.MetaArgs), 1; got != want {
		t.Fatalf("meta args = %d, want %d", got, want)
	}
	type stage struct {
		Name, Base string
		Line       int
		Keywords   []string
		Froms      []string
	}
	var got []stage
	for _, st := range df.Stages {
		s := stage{Name: st.Name, Base: st.Base, Line: st.Line}
		for _, step := range st.Steps {
			s.Keywords = append(s.Keywords, step.Keyword)
			s.Froms = append(s.Froms, strings.Join(step.Froms, ","))
		}
		got = append(got, s)
	}
	want := []stage{
		{Name: "build", Base: "$BASE", Line: 2, Keywords: []string{"RUN", "COPY"}, Froms: []string{"", "0"}},
		{Name: "", Base: "scratch", Line: 5, Keywords: []string{"COPY", "RUN"}, Froms: []string{"build", "build,img:1"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // substring of the message
		line      int
	}{
		{"empty file", "", "Dockerfile", 0},
		{"only comments", "# nothing\n", "file with no instructions", 1},
		{"no FROM", "ARG X=1\n", "no FROM", 0},
		{"RUN before FROM", "RUN true\nFROM scratch\n", "before the first FROM", 1},
		{"unknown instruction", "FROM scratch\nFOO bar\n", "unknown instruction: FOO", 2},
		{"unknown flag", "FROM scratch\nCOPY --bogus=1 a b\n", "unknown flag: --bogus", 2},
		{"COPY without dest", "FROM scratch\nCOPY a\n", "COPY requires at least two arguments", 2},
		{"bad stage name", "FROM scratch AS 1x\n", "invalid name for build stage", 1},
		{"ONBUILD ONBUILD", "FROM scratch\nONBUILD ONBUILD RUN x\n", "ONBUILD", 2},
		{"bad healthcheck", "FROM scratch\nHEALTHCHECK --interval=x CMD true\n", "interval", 2},
		// Errors of the parser itself quote the line too.
		{"unterminated heredoc", "FROM scratch\nRUN <<EOF\necho\n", "Dockerfile:2: RUN <<EOF: unterminated heredoc", 2},
		{"LABEL without value", "FROM scratch\nLABEL a\n", "Dockerfile:2: LABEL a: LABEL must have two arguments", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("Dockerfile", []byte(tt.src))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *dockerfile.Error", err)
			}
			if de.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", de.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "Dockerfile") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	df := mustParse(t, "FROM scratch\n\nRUN exit 3\n")
	err := df.Stages[0].Steps[0].Errorf("exit status %d", 3)
	if got, want := err.Error(), "Dockerfile:3: RUN exit 3: exit status 3"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	// Wrapping twice keeps the first location.
	if again := df.Stages[0].Steps[0].Wrap(err); again.Error() != err.Error() {
		t.Errorf("rewrapped = %q", again)
	}
}

func TestParseTrigger(t *testing.T) {
	df := mustParse(t, "FROM busybox AS b\nRUN true\n")
	step, err := df.ParseTrigger(df.Stages[0], "COPY --from=b /x /y")
	if err != nil {
		t.Fatal(err)
	}
	if step.Keyword != "COPY" || len(step.Froms) != 1 || step.Froms[0] != "b" || step.Line != 1 {
		t.Errorf("trigger = %+v", step)
	}
	if _, err := df.ParseTrigger(df.Stages[0], "FROM alpine"); err == nil {
		t.Error("FROM as a trigger was accepted")
	}
}

func TestForeignSyntax(t *testing.T) {
	for src, want := range map[string]bool{
		"FROM scratch\n": false,
		"# syntax=docker/dockerfile:1\nFROM scratch\n":                            false,
		"# syntax=docker.io/docker/dockerfile:1.7@sha256:abc\nFROM scratch\n":     false,
		"#syntax=docker/dockerfile-upstream:master\nFROM scratch\n":               false,
		"# syntax=docker/dockerfile:1-labs\nFROM scratch\n":                       true,
		"# syntax=example.com/frontends/mine:2\nFROM scratch\n":                   true,
		"#!/usr/bin/env buildctl\n# syntax=tonistiigi/dockerfile\nFROM scratch\n": true,
	} {
		df, err := Parse("Dockerfile", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := df.ForeignSyntax(); got != want {
			t.Errorf("%q: ForeignSyntax() = %v (syntax %q)", src, got, df.Syntax)
		}
	}
}
