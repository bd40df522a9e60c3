package dockerfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lintFor parses src, plans its last stage and lints it.
func lintFor(t *testing.T, src string, buildArgs map[string]string) (*Dockerfile, *Lint, error) {
	t.Helper()
	df, err := Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	amd64 := Platform{OS: "linux", Architecture: "amd64"}
	auto := PlatformArgs(amd64, amd64, "", buildArgs)
	g, err := df.Globals(auto, buildArgs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := df.Plan("", g)
	if err != nil {
		t.Fatal(err)
	}
	l, err := df.Lint(p, auto, g, buildArgs)
	return df, l, err
}

func ruleLines(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%s:%d", w.Rule, w.Line))
	}
	return out
}

// TestLint: the rules BuildKit v0.34.2 reports for each file (its
// "WARN:" lines, checked with buildctl), in its order.
func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		args      map[string]string
		want      []string
	}{
		{"many", `FROM scratch as base
maintainer me
ENV A b
LABEL x y
WORKDIR rel
CMD echo hi
CMD echo two
EXPOSE 80/TCP
ARG PASSWORD=x
run echo
FROM base AS Base2
COPY --from=base /x /y
`, nil, []string{"FromAsCasing:1", "MaintainerDeprecated:2", "StageNameCasing:11",
			"ConsistentInstructionCasing:2", "ConsistentInstructionCasing:10",
			"LegacyKeyValueFormat:3", "LegacyKeyValueFormat:4", "WorkdirRelativePath:5",
			"JSONArgsRecommended:6", "MultipleInstructionsDisallowed:6", "JSONArgsRecommended:7",
			"ExposeProtoCasing:8", "SecretsUsedInArgOrEnv:9"}},
		{"clean", "FROM scratch AS a\nENV A=b\nCMD [\"x\"]\nWORKDIR /srv\nWORKDIR rel\n", nil, nil},
		{"stage names", "FROM scratch AS scratch\nFROM scratch AS a\nFROM scratch AS a\n", nil,
			[]string{"ReservedStageName:1", "DuplicateStageName:3"}},
		{"lower case file", "from scratch\nrun x\nCOPY a b\n", nil, []string{"ConsistentInstructionCasing:3"}},
		{"from args", "ARG TAG=1\nARG IMG\nFROM busybox:${TAGG}\nFROM $IMG\n", map[string]string{"IMG": "alpine"},
			[]string{"InvalidDefaultArgInFrom:3", "InvalidDefaultArgInFrom:4", "UndefinedArgInFrom:3"}},
		{"platforms", "FROM --platform=$TARGETPLATFORM scratch AS a\nFROM --platform=linux/arm64 scratch AS b\nFROM --platform=linux/arm64 scratch AS b-arm64\n", nil,
			[]string{"RedundantTargetPlatform:1", "FromPlatformFlagConstDisallowed:2"}},
		{"secrets", "FROM scratch\nARG GITHUB_TOKEN\nENV MY_SECRET_VALUE=1 PUBLIC_KEY=2 KEYS=3 KEY_FILE=x\n", nil,
			[]string{"SecretsUsedInArgOrEnv:2", "SecretsUsedInArgOrEnv:3"}},
		{"unused stage is not dispatched", "FROM scratch AS a\nENV A b\nFROM scratch\nCOPY x y\n", nil, nil},
		{"workdir inherited from the base stage", "FROM scratch AS a\nWORKDIR /w\nFROM a\nWORKDIR rel\nSHELL [\"sh\"]\nCMD x\n", nil, nil},
		{"expose", "FROM scratch\nEXPOSE 80/UDP 127.0.0.1:80:80 8080:80/tcp\n", nil,
			// BuildKit sorts the ports as written
			[]string{"ExposeInvalidFormat:2", "ExposeProtoCasing:2", "ExposeInvalidFormat:2"}},
		{"empty continuation", "FROM scratch\nRUN a \\\n\n  b\n", nil, []string{"NoEmptyContinuation:4"}},
		{"skipped", "# check=skip=FromAsCasing,LegacyKeyValueFormat\nFROM scratch as a\nENV A b\nCMD x\n", nil,
			[]string{"JSONArgsRecommended:4"}},
		{"skipped above one instruction", "FROM scratch AS first\n# check=skip=StageNameCasing\nFROM scratch AS Upper\nFROM scratch\n# check=skip=JSONArgsRecommended\nCMD echo hi\nCMD echo two\n# check=skip=LegacyKeyValueFormat\nENV A b\nENV B c\n", nil,
			[]string{"MultipleInstructionsDisallowed:6", "JSONArgsRecommended:7", "LegacyKeyValueFormat:10"}},
		{"skip all", "# check=skip=all\nFROM scratch as a\nENV A b\n", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, l, err := lintFor(t, tc.src, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ruleLines(l.Warnings())); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if err := l.Err(); err != nil {
				t.Errorf("Err() = %v without error=true", err)
			}
		})
	}
}

// TestLintError: "error=true" turns the warnings into BuildKit's error;
// the build arg replaces the directive whole.
func TestLintError(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		args      map[string]string
		want      string // "" for no error
	}{
		{"directive", "# check=error=true\nFROM scratch as a\nENV A b\n", nil, "Dockerfile:2: lint violation found for rules: FromAsCasing, LegacyKeyValueFormat"},
		{"clean file", "# check=error=true\nFROM scratch AS a\n", nil, ""},
		{"skipped rule", "# check=skip=FromAsCasing;error=true\nFROM scratch as a\n", nil, ""},
		{"build arg replaces", "# check=skip=all;error=true\nFROM scratch as a\n", map[string]string{CheckArg: "error=true"}, "rules: FromAsCasing"},
		{"build arg turns off", "# check=error=true\nFROM scratch as a\n", map[string]string{CheckArg: ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, l, err := lintFor(t, tc.src, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			err = l.Err()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Err() = %v, want %q", err, tc.want)
			}
		})
	}
	if _, _, err := lintFor(t, "# check=error=maybe\nFROM scratch\n", nil); err == nil || !strings.Contains(err.Error(), "failed to parse check options") {
		t.Errorf("malformed directive: err = %v", err)
	}
}

// TestLintDispatched: a shell-form CMD on an image's base is checked when
// the build knows the image's SHELL; a relative WORKDIR from a variable
// when it is expanded.
func TestLintDispatched(t *testing.T) {
	df, l, err := lintFor(t, "FROM busybox AS a\nWORKDIR $D\nCMD x\nFROM a\nCMD y\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ws := l.Warnings(); len(ws) != 0 {
		t.Fatalf("warned before the build knew: %v", ws)
	}
	steps := df.Stages[0].Steps
	if ws := l.Dispatched(steps[0], &Workdir{Path: "/abs"}, nil); len(ws) != 0 {
		t.Errorf("absolute WORKDIR warned: %v", ws)
	}
	if ws := l.Dispatched(steps[1], &Cmd{Args: []string{"x"}, Shell: true}, []string{"/bin/bash", "-c"}); len(ws) != 0 {
		t.Errorf("CMD on an image with a SHELL warned: %v", ws)
	}
	ws := l.Dispatched(df.Stages[1].Steps[0], &Cmd{Args: []string{"y"}, Shell: true}, nil)
	if diff := cmp.Diff([]string{"JSONArgsRecommended:5"}, ruleLines(ws)); diff != "" {
		t.Errorf("dispatched (-want +got):\n%s", diff)
	}
	if ws := l.Dispatched(steps[0], &Workdir{Path: "rel"}, nil); len(ws) != 1 {
		t.Errorf("relative WORKDIR from a variable: %v", ws)
	}
}
