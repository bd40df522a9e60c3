package build

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/isolation"
)

// TestSharedRoot builds stages in turn in one directory, as kaniko's mode
// does at "/", and checks the image equals the one private roots give.
func TestSharedRoot(t *testing.T) {
	base := busybox(t, file{name: "data/"}, file{name: "data/old", body: "old"})
	df := "FROM " + base + ` AS build
RUN echo built > /artifact && rm /data/old
FROM build AS test
RUN test -f /artifact && ! test -e /junk && echo tested > /tested
FROM ` + base + `
COPY --from=build /artifact /artifact
COPY --from=test /tested /tested
RUN test -f /data/old && ! test -e /tested.not && echo final > /final
RUN --mount=type=cache,target=/c echo x > /c/f
`
	private := mustBuildIn(t, df, map[string]string{}, amd)

	root := t.TempDir()
	if err := testenv.WriteFiles(root, 0o644, map[string]string{"keep/secret": "mine", "junk": "left by someone", "etc/hosts": "mounted"}); err != nil {
		t.Fatal(err)
	}
	shared := func(cleanup bool) func(*Options) {
		return func(o *Options) {
			amd(o)
			o.Root, o.Cleanup = root, cleanup
			o.Ignore = []string{filepath.Join(root, "keep"), filepath.Join(root, "etc/hosts")}
			o.Runner = &isolation.Chroot{TempDir: t.TempDir()}
			o.CacheMountDir = filepath.Join(root, "cache-mounts") // spared like the work directory
		}
	}
	res := mustBuildIn(t, df, map[string]string{}, shared(false))
	want, got := flatten(t, private.Image), flatten(t, res.Image)
	if diff := cmp.Diff(bodies(want), bodies(got)); diff != "" {
		t.Errorf("image built in a shared root differs (-private +shared):\n%s", diff)
	}
	for _, p := range []string{"artifact", "tested", "final", "data/old"} {
		if _, ok := got[p]; !ok {
			t.Errorf("%s missing from the image", p)
		}
	}
	for _, p := range []string{"keep/secret", "cache-mounts", "c"} {
		if _, ok := got[p]; ok {
			t.Errorf("%s went into the image", p)
		}
	}
	// The root holds the last stage now; the ignored paths are untouched.
	for p, body := range map[string]string{"final": "final\n", "keep/secret": "mine", "etc/hosts": "mounted"} {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(data) != body {
			t.Errorf("%s in the root: %q, %v; want %q", p, data, err, body)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "junk")); !os.IsNotExist(err) {
		t.Errorf("junk outlived the reset: %v", err)
	}

	mustBuildIn(t, df, map[string]string{}, shared(true))
	var left []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if p != root {
			rel, _ := filepath.Rel(root, p)
			left = append(left, rel)
		}
		return nil
	})
	sort.Strings(left)
	if got := left[:min(len(left), 1)]; len(got) == 0 || got[0] != "cache-mounts" {
		t.Errorf("the cache mounts did not outlive the build: %v", left)
	}
	left = slices.DeleteFunc(left, func(p string) bool { return strings.HasPrefix(p, "cache-mounts") })
	if diff := cmp.Diff([]string{"etc", "etc/hosts", "keep", "keep/secret"}, left); diff != "" {
		t.Errorf("after --cleanup (-want +got):\n%s", diff)
	}
}

// bodies maps each path to its type and content.
func bodies(fs map[string]entry) map[string]string {
	out := map[string]string{}
	for p, e := range fs {
		out[p] = string(e.Type) + ":" + e.Body + e.Link
	}
	return out
}
