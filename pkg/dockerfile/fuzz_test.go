package dockerfile

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDockerfile runs the whole front end on arbitrary text: parsing, the
// global ARGs, the stage plan, BuildKit's checks and the expansion of
// every step. Nothing may panic, and every error must locate itself in
// the Dockerfile.
func FuzzDockerfile(f *testing.F) {
	for _, seed := range []string{
		"FROM scratch\nCOPY a /b\n",
		"ARG V=1\nFROM busybox:$V AS build\nRUN echo ${V:-x} && echo $HOME\nFROM build\nCOPY --from=build /a /b\n",
		"# escape=`\nFROM scratch\nENV A=`$x B=\"q w\"\nLABEL a=b c=\"d e\"\n",
		"FROM alpine\nRUN <<EOF\necho hi\nEOF\nCOPY <<-EOT /x\n\tdata\nEOT\n",
		"FROM a AS x\nFROM x AS y\nFROM y AS x\n",
		"FROM scratch\nEXPOSE 80/tcp 8000-8010/udp\nHEALTHCHECK --interval=5s CMD true\nONBUILD RUN x\nSHELL [\"/bin/bash\",\"-c\"]\n",
		"FROM scratch\nRUN --mount=type=cache,target=/x --network=none echo\nUSER 1000:1000\nWORKDIR ${X:+/y}\n",
		"", "RUN x", "FROM", "FROM scratch\nCOPY\n", "FROM scratch\nRUN <<EOF\nunterminated\n",
		"# check=skip=JSONArgsRecommended;error=true\nfrom scratch as Base\nENV key value\nCMD x\nCMD y\nEXPOSE 1.2.3.4:80:80/TCP\nARG _\n",
		"FROM scratch\n# check=skip=JSONArgsRecommended;experimental=all\nCMD echo hi\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		df, err := Parse("Dockerfile", []byte(src))
		if err != nil {
			checkLocated(t, err)
			return
		}
		globals, err := df.Globals(NewVarsForFuzz(), map[string]string{"V": "2"})
		if err != nil {
			return
		}
		if plan, err := df.Plan("", globals); err != nil {
			checkLocated(t, err)
		} else {
			lintFuzzed(t, df, plan, globals)
		}
		for _, st := range df.Stages {
			vars := VarsFromEnviron([]string{"PATH=/bin", "HOME=/root"})
			for _, step := range st.Steps {
				if _, err := step.Expand(vars); err != nil {
					checkLocated(t, err)
				}
			}
		}
	})
}

// lintFuzzed runs BuildKit's checks on a fuzzed file.
func lintFuzzed(t *testing.T, df *Dockerfile, plan *Plan, globals *Vars) {
	auto := PlatformArgs(Platform{OS: "linux", Architecture: "amd64"}, Platform{OS: "linux", Architecture: "amd64"}, "", nil)
	lint, err := df.Lint(plan, auto, globals, nil)
	if err != nil {
		checkLocated(t, err)
		return
	}
	if err := lint.Err(); err != nil {
		checkLocated(t, err)
	}
}

func checkLocated(t *testing.T, err error) {
	t.Helper()
	var de *Error
	if errors.As(err, &de) && !strings.HasPrefix(err.Error(), "Dockerfile") {
		t.Errorf("error %q does not name the Dockerfile", err)
	}
}

// NewVarsForFuzz is an empty variable set.
func NewVarsForFuzz() *Vars { return VarsFromEnviron(nil) }
