package integration

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

var (
	// BuildKit: "#1 WARN: FromAsCasing: 'as' and 'FROM' ... (line 2)"
	theirWarning = regexp.MustCompile(`(?m)WARN: ([A-Za-z]+): (.*) \(line (\d+)\)$`)
	// ours: "[Warning] Dockerfile:2: FromAsCasing: 'as' and 'FROM' ..."
	ourWarning = regexp.MustCompile(`(?m)\[Warning\] [^:\n]+:(\d+): ([A-Z][A-Za-z]+): (.*)$`)
)

// compareWarnings compares the Dockerfile checks this builder reported
// (its stderr) with those BuildKit did (buildctl's output): the same
// rules, messages and lines, each as often. buildctl's output does not
// always hold the warnings BuildKit finds as it dispatches the steps
// (seen missing in one build of three, alone on the daemon or not; it
// never shows one it did not find), so where this builder reported more,
// probe asks BuildKit again with the file's check settings and
// error=true: its error names every rule it found, which must be the
// rules this builder reported.
func compareWarnings(t *testing.T, ours, theirs string, probe func() (string, error)) {
	t.Helper()
	got := warningsIn(ourWarning, ours, 2, 3, 1)
	want := warningsIn(theirWarning, theirs, 1, 2, 3)
	if slices.Equal(want, got) {
		return
	}
	left := slices.Clone(got)
	for _, w := range want {
		i := slices.Index(left, w)
		if i < 0 {
			t.Errorf("Dockerfile warnings differ from BuildKit's (-buildkit +ours):\n%s", cmp.Diff(want, got))
			return
		}
		left = slices.Delete(left, i, i+1)
	}
	out, err := probe()
	var theirRules []string
	if m := violation.FindStringSubmatch(out); err != nil && m != nil {
		theirRules = strings.Split(m[1], ", ")
		slices.Sort(theirRules)
	} else if err != nil {
		t.Errorf("BuildKit with error=true: %v", err)
		return
	}
	var ourRules []string
	for _, w := range got {
		if r, _, _ := strings.Cut(w, ":"); !slices.Contains(ourRules, r) {
			ourRules = append(ourRules, r)
		}
	}
	slices.Sort(ourRules)
	if !slices.Equal(theirRules, ourRules) {
		t.Errorf("Dockerfile warnings: BuildKit found rules %v, this builder %v; buildctl printed (-buildkit +ours):\n%s", theirRules, ourRules, cmp.Diff(want, got))
	}
}

// violation is BuildKit's error for warnings under error=true.
var violation = regexp.MustCompile(`lint violation found for rules: ([A-Za-z, ]+)`)

// failOnWarnings is the BUILDKIT_DOCKERFILE_CHECK value that keeps a
// case's check settings (its build arg, else its Dockerfile's "# check="
// line) and makes any warning fail the build.
func failOnWarnings(dockerfile []byte, args []string) string {
	setting, _, _, _ := parser.ParseDirective("check", dockerfile)
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "BUILDKIT_DOCKERFILE_CHECK="); ok && i > 0 && args[i-1] == "--build-arg" {
			setting = v
		}
	}
	var parts []string
	for _, p := range strings.Split(setting, ";") {
		if p = strings.TrimSpace(p); p != "" && !strings.HasPrefix(p, "error=") {
			parts = append(parts, p)
		}
	}
	return strings.Join(append(parts, "error=true"), ";")
}

// warningsIn lists the warnings re finds in out as "Rule: message (line
// N)", sorted; rule, msg and line are re's groups.
func warningsIn(re *regexp.Regexp, out string, rule, msg, line int) []string {
	var ws []string
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		ws = append(ws, m[rule]+": "+m[msg]+" (line "+m[line]+")")
	}
	slices.Sort(ws)
	return ws
}

// checkWarning is a warning as docker build --check prints it (and this
// builder's --check): "WARNING: Rule - URL", the message, then
// "Dockerfile:N" when it names a line.
var checkWarning = regexp.MustCompile(`(?m)^WARNING: ([A-Za-z]+)(?: - \S+)?\n(.*)\n(?:[^\s:]+:(\d+)\n)?`)

// compareChecks runs this builder's --check and the reference's lint on
// the case: the same warnings, each as often, for every stage (or the
// target's), with nothing built.
func compareChecks(t *testing.T, ctxDir string, args []string, ref *reference) {
	t.Helper()
	theirs, err := ref.lint(t.Context(), ctxDir, args)
	if err != nil {
		t.Errorf("%s lint: %v", ref.name, err)
		return
	}
	r := runBuilder(t, ctxDir, nil, append([]string{"--context", ctxDir, "--check"}, args...)...)
	want, got := warningsIn(checkWarning, theirs, 1, 2, 3), warningsIn(checkWarning, r.stdout, 1, 2, 3)
	if !slices.Equal(want, got) {
		t.Errorf("--check against %s's lint (-%s +ours):\n%s", ref.name, ref.name, cmp.Diff(want, got))
	}
	if wantCode := min(len(got), 1); r.code != wantCode {
		t.Errorf("--check found %d warnings and exited %d, want %d", len(got), r.code, wantCode)
	}
}
