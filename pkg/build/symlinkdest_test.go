package build

import (
	"archive/tar"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestDestinationThroughDanglingSymlink: WORKDIR and COPY through an
// absolute symlink to a path whose parents do not exist yet make those
// directories where the link leads, inside the root, as BuildKit does;
// in an outline root and in a full one.
func TestDestinationThroughDanglingSymlink(t *testing.T) {
	host := testRegistry(t)
	base := host + "/base:links"
	pushImage(t, base, v1.Config{}, amd64, layerOf(t,
		file{name: "app", typ: tar.TypeSymlink, link: "/opt/app"},
		file{name: "data", typ: tar.TypeSymlink, link: "../srv/data"},
		file{name: "loop", typ: tar.TypeSymlink, link: "/loop/x"}))
	runner := &scriptedRunner{scripts: map[string]func(string) error{"true": func(string) error { return nil }}}
	for name, first := range map[string]string{"outline": "", "full root": "RUN true\n"} {
		t.Run(name, func(t *testing.T) {
			df := "FROM " + base + "\n" + first + "WORKDIR /app/sub\nCOPY f /data/x/f\nCOPY f rel\n"
			res := mustBuildIn(t, df, map[string]string{"f": "x"}, func(o *Options) { o.Platform, o.Runner = "linux/amd64", runner })
			fs := flatten(t, res.Image)
			for _, p := range []string{"opt/app/sub", "srv/data/x"} {
				if fs[p].Type != tar.TypeDir {
					t.Errorf("%s is not a directory: %+v", p, fs[p])
				}
			}
			for _, p := range []string{"srv/data/x/f", "opt/app/sub/rel"} {
				if fs[p].Body != "x" {
					t.Errorf("%s = %+v", p, fs[p])
				}
			}
			if res.Image == nil {
				t.Fatal("no image")
			}
			cf, _ := res.Image.ConfigFile()
			if cf.Config.WorkingDir != "/app/sub" {
				t.Errorf("WorkingDir %q", cf.Config.WorkingDir)
			}
		})
	}
	if _, err := buildIn(t, "FROM "+base+"\nWORKDIR /loop/y\n", map[string]string{}, func(o *Options) { o.Platform = "linux/amd64" }); err == nil {
		t.Error("WORKDIR through a symlink loop succeeded")
	}
}
