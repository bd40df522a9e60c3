package build

import (
	"slices"
	"strings"
	"testing"
)

// TestExtraTargets: more than one target in one build, the stages they
// share built once.
func TestExtraTargets(t *testing.T) {
	r := &scriptedRunner{scripts: map[string]func(string) error{
		"deps":  writes("deps", "d\n"),
		"app":   writes("app", "a\n"),
		"tests": writes("tests", "ok\n"),
	}}
	df := "FROM scratch AS base\nCOPY f /f\nRUN deps\nFROM base AS app\nRUN app\nFROM base AS test\nRUN tests\nFROM scratch AS unused\nCOPY f /u\n"
	res := mustBuildIn(t, df, map[string]string{"f": "x"}, func(o *Options) {
		o.Runner, o.Target, o.ExtraTargets = r, "app", []string{"TEST", "app", "test"}
	})
	if ran := r.took(); !slices.Equal(sorted(ran), []string{"app", "deps", "tests"}) {
		t.Errorf("ran %v, want each step once", ran)
	}
	if fs := flatten(t, res.Image); fs["app"].Body != "a\n" || fs["tests"].Body != "" {
		t.Errorf("the app image: app %q tests %q", fs["app"].Body, fs["tests"].Body)
	}
	if len(res.Extra) != 1 || res.Extra[0].Stage != "test" {
		t.Fatalf("extra images %+v, want the test stage's alone", res.Extra)
	}
	fs := flatten(t, res.Extra[0].Image)
	if fs["tests"].Body != "ok\n" || fs["deps"].Body != "d\n" || fs["app"].Body != "" {
		t.Errorf("the test image: tests %q deps %q app %q", fs["tests"].Body, fs["deps"].Body, fs["app"].Body)
	}
	if d, _ := res.Extra[0].Image.Digest(); d != res.Extra[0].Digest {
		t.Errorf("digest %s, the image's %s", res.Extra[0].Digest, d)
	}

	_, err := buildIn(t, df, map[string]string{"f": "x"}, func(o *Options) { o.Runner, o.ExtraTargets = r, []string{"nope"} })
	if err == nil || !strings.Contains(err.Error(), `target stage "nope" could not be found`) {
		t.Errorf("an unknown extra target: %v", err)
	}
}
