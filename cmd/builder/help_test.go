package main

import (
	"strings"
	"testing"
)

// TestGroupedHelp: build --help shows examples, then the flags in their
// groups, kaniko's compatibility flags last; a flag of no group is one
// only kaniko's jobs pass.
func TestGroupedHelp(t *testing.T) {
	out, _, err := execute(t, "build", "--help")
	if err != nil {
		t.Fatal(err)
	}
	last := -1
	for _, heading := range []string{"Examples:", "Build:", "Output:", "Cache:", "Registries:", "Isolation and work directory:", "Diagnostics:", compatTitle} {
		i := strings.Index(out, "\n"+heading)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order in:\n%s", heading, out)
		}
		last = i
	}
	compat := out[last:]
	status := map[string]string{}
	for _, k := range kanikoFlags {
		status[k.name] = k.status
	}
	accepted := map[string]bool{"custom-platform": true, "pull": true, "skip-unused-stages": true, "snapshot-mode": true}
	for _, line := range strings.Split(compat, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		name := strings.TrimPrefix(f[0], "--")
		if status[name] == supported && !accepted[name] {
			t.Errorf("--%s, a flag of this builder's own, is among kaniko's compatibility flags", name)
		}
	}
}
