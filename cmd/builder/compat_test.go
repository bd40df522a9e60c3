package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite docs/kaniko.md's flag table from the code")

const (
	docPath    = "../../docs/kaniko.md"
	tableStart = "<!-- flags:start -->\n"
	tableEnd   = "<!-- flags:end -->\n"
)

// TestCompatTableDocumented keeps docs/kaniko.md's table equal to the code's.
func TestCompatTableDocumented(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start, end := strings.Index(doc, tableStart), strings.Index(doc, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("%s lacks the %q and %q markers", docPath, tableStart, tableEnd)
	}
	want := doc[:start+len(tableStart)] + compatTable() + doc[end:]
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != doc {
		t.Errorf("%s is out of date: run go test ./cmd/builder -run TestCompatTableDocumented -update", docPath)
	}
}

// TestEveryKanikoFlagRegistered checks that each kaniko flag is a flag of
// both the root command and build, and that nothing is listed twice.
func TestEveryKanikoFlagRegistered(t *testing.T) {
	root := newRootCmd()
	build, _, err := root.Find([]string{"build"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range kanikoFlags {
		if seen[k.name] {
			t.Errorf("--%s is listed twice", k.name)
		}
		seen[k.name] = true
		for _, cmd := range []*pflag.FlagSet{root.Flags(), build.Flags()} {
			if cmd.Lookup(k.name) == nil {
				t.Errorf("--%s is not a flag", k.name)
			}
		}
		if k.status != supported && k.note == "" {
			t.Errorf("--%s is %s without saying why", k.name, k.status)
		}
	}
}

func TestIgnoredFlagsWarn(t *testing.T) {
	_, stderr, err := execute(t, "--context", "../../examples/hello", "--no-push", "--cache-copy-layers", "--compressed-caching",
		"--single-snapshot", "--work-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"--cache-copy-layers ", "--compressed-caching ", "--single-snapshot "} {
		if !strings.Contains(stderr, "WARNING: "+f+"is accepted for kaniko compatibility and ignored") {
			t.Errorf("no warning for %s in:\n%s", f, stderr)
		}
	}
}
