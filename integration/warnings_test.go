package integration

import (
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	// BuildKit: "#1 WARN: FromAsCasing: 'as' and 'FROM' ... (line 2)"
	theirWarning = regexp.MustCompile(`(?m)WARN: ([A-Za-z]+): (.*) \(line (\d+)\)$`)
	// ours: "[Warning] Dockerfile:2: FromAsCasing: 'as' and 'FROM' ..."
	ourWarning = regexp.MustCompile(`(?m)\[Warning\] [^:\n]+:(\d+): ([A-Z][A-Za-z]+): (.*)$`)
)

// compareWarnings compares the Dockerfile checks this builder reported
// (its stderr) with those BuildKit did (buildctl's output): the same
// rules, messages and lines, each as often. Where they differ, BuildKit
// builds the case again alone (see references) and that build's are
// compared.
func compareWarnings(t *testing.T, ours, theirs string, alone func() (string, error)) {
	t.Helper()
	got := warningsIn(ourWarning, ours, 2, 3, 1)
	want := warningsIn(theirWarning, theirs, 1, 2, 3)
	if slices.Equal(want, got) {
		return
	}
	out, err := alone()
	if err != nil {
		t.Errorf("BuildKit alone: %v", err)
		return
	}
	want = warningsIn(theirWarning, out, 1, 2, 3)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Dockerfile warnings differ from BuildKit's, built alone (-buildkit +ours):\n%s", diff)
	}
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
