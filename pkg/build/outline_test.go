package build

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/overlay"
)

// outlineBase pushes a two-layer image whose files COPY and WORKDIR meet:
// a directory reached through a symlink, a file, a hard link, a fifo, a
// user database, and a second layer deleting and hiding some of them.
func outlineBase(t *testing.T, passwd ...file) string {
	t.Helper()
	ref := testRegistry(t) + "/outline:1"
	lower := layerOf(t, append(append([]file{{name: "etc/"}}, passwd...),
		file{name: "etc/group", body: "root:x:0:\napp:x:1000:\n"},
		file{name: "usr/"}, file{name: "usr/lib/"}, file{name: "usr/lib/base.so", body: "elf"},
		file{name: "lib", typ: tar.TypeSymlink, link: "usr/lib"},
		file{name: "srv/", mode: 0o750, uid: 1000, gid: 1000}, file{name: "srv/config", body: "base config\n"},
		file{name: "srv/config-link", typ: tar.TypeLink, link: "srv/config"},
		file{name: "srv/pipe", typ: tar.TypeFifo},
		file{name: "opt/"}, file{name: "opt/old/"}, file{name: "opt/old/file", body: "old"},
		file{name: "gone/"}, file{name: "gone/file", body: "gone"},
	)...)
	upper := layerOf(t,
		file{name: ".wh.gone"},
		file{name: "opt/"}, file{name: "opt/.wh..wh..opq"}, file{name: "opt/new", body: "new"},
	)
	pushImage(t, ref, v1.Config{}, amd64, lower, upper)
	return ref
}

var plainPasswd = file{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"}

// buildTwice builds the Dockerfile as it is and with an ADD at the end,
// which reads the stage's files and so makes it unpack them in full. It
// returns both results, errors, and whether each unpacked an outline.
func buildTwice(t *testing.T, df string, files map[string]string) (outlined, full *Result, oerr, ferr error, oOutline, fOutline bool) {
	t.Helper()
	run := func(df string) (*Result, error, bool) {
		var log bytes.Buffer
		fs := map[string]string{"marker": "m"}
		for k, v := range files {
			fs[k] = v
		}
		res, err := buildIn(t, df, fs, amd, func(o *Options) {
			o.Reproducible = true
		}, debugTo(&log))
		return res, err, strings.Contains(log.String(), "unpacked an outline")
	}
	outlined, oerr, oOutline = run(df)
	full, ferr, fOutline = run(df + "ADD marker /marker\n")
	return
}

// TestOutlineGivesTheSameLayers builds COPY and WORKDIR stages on an
// outline of the base and on its full files: every layer must be the same,
// byte for byte.
func TestOutlineGivesTheSameLayers(t *testing.T) {
	files := map[string]string{
		"app/bin/run": "#!/bin/sh\n", "app/README": "read me\n", "one.txt": "one\n", "config": "new config\n",
	}
	tests := []struct {
		name   string
		passwd []file
		steps  string
	}{
		{"copies", []file{plainPasswd}, `COPY app/ /srv/app/
COPY one.txt /lib/one.txt
COPY --chown=app:app one.txt /srv/
COPY config /srv/config
COPY config /srv/config-link
COPY one.txt /opt/old/
COPY <<EOF /etc/motd
hello
EOF
`},
		{"workdir as a user", []file{plainPasswd}, "USER app\nWORKDIR /srv/work/deeper\nCOPY one.txt .\nWORKDIR /lib/more\n"},
		// The outline leaves srv/passwd out: COPY fills it in to read it.
		{"user database behind a symlink", []file{{name: "etc/passwd", typ: tar.TypeSymlink, link: "../srv/passwd"},
			{name: "srv/passwd", body: plainPasswd.body}},
			"COPY --chown=app one.txt /one\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := outlineBase(t, tt.passwd...)
			o, f, oerr, ferr, oOutline, fOutline := buildTwice(t, "FROM "+base+"\n"+tt.steps, files)
			if oerr != nil || ferr != nil {
				t.Fatalf("outlined: %v; full: %v", oerr, ferr)
			}
			if !oOutline || fOutline {
				t.Fatalf("outlines unpacked: %v without ADD, %v with it; want true, false", oOutline, fOutline)
			}
			ol, err := o.Image.Layers()
			if err != nil {
				t.Fatal(err)
			}
			fl, err := f.Image.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(fl) != len(ol)+1 {
				t.Fatalf("%d layers with the outline, %d with ADD", len(ol), len(fl))
			}
			for i, l := range ol {
				od, _ := l.DiffID()
				fd, _ := fl[i].DiffID()
				if od != fd {
					t.Errorf("layer %d differs:\noutline %v\nfull    %v", i+1, layerNames(t, o.Image, i)[0], layerNames(t, f.Image, i)[0])
				}
			}
		})
	}
}

// TestOutlineRefusesWhatTheFilesRefuse checks that the files an outline
// leaves out still stand in COPY's and WORKDIR's way, with the errors the
// full files give.
func TestOutlineRefusesWhatTheFilesRefuse(t *testing.T) {
	files := map[string]string{"dir/a": "a", "one.txt": "one", "tree/config/x": "x"}
	for _, steps := range []string{
		"COPY dir /srv/config\n",
		"COPY tree/ /srv/\n",
		"COPY dir/ /lib/base.so/\n",
		"COPY one.txt /srv/pipe/\n",
		"WORKDIR /srv/config-link/sub\n",
		"COPY one.txt /lib/base.so/x/\n",
	} {
		t.Run(strings.TrimSpace(steps), func(t *testing.T) {
			base := outlineBase(t, plainPasswd)
			_, _, oerr, ferr, oOutline, _ := buildTwice(t, "FROM "+base+"\n"+steps, files)
			if oerr == nil || ferr == nil {
				t.Fatalf("want both builds to fail; outlined: %v; full: %v", oerr, ferr)
			}
			if !oOutline {
				t.Error("no outline was unpacked")
			}
			clean := func(err error) string {
				// Host paths differ between builds: compare from the stage.
				s := err.Error()
				if i := strings.Index(s, "/roots/stage-0"); i >= 0 {
					s = s[i:]
				}
				return s
			}
			if diff := cmp.Diff(clean(ferr), clean(oerr)); diff != "" {
				t.Errorf("errors (-full +outlined):\n%s", diff)
			}
		})
	}
}

// TestOutlineNotForStagesOthersRead checks that a COPY-only stage that
// another copies from is unpacked in full, once, and that what is copied
// from it includes its base's files.
func TestOutlineNotForStagesOthersRead(t *testing.T) {
	base := outlineBase(t, plainPasswd)
	var log bytes.Buffer
	res := mustBuildIn(t, "FROM "+base+" AS a\nCOPY one.txt /srv/\nFROM "+base+"\nCOPY --from=a /srv/ /copied/\n",
		map[string]string{"one.txt": "one"}, amd, debugTo(&log))
	if n := strings.Count(log.String(), "unpacked an outline"); n != 1 {
		t.Errorf("%d outlines, want 1 (the last stage's)", n)
	}
	fs := flatten(t, res.Image)
	for p, want := range map[string]string{"copied/config": "base config\n", "copied/one.txt": "one"} {
		if got := fs[p].Body; got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
}

// TestOutlineNotWhereLayersAreKept checks that with a base layer directory
// a COPY-only stage is mounted over the kept layers (faster from the
// second build on) rather than outlined.
func TestOutlineNotWhereLayersAreKept(t *testing.T) {
	needRoot(t)
	if err := overlay.Supported(t.TempDir()); err != nil {
		t.Skipf("no overlayfs here: layers are not kept unpacked: %v", err)
	}
	base := outlineBase(t, plainPasswd)
	kept := t.TempDir()
	for i := range 2 {
		var log bytes.Buffer
		res := mustBuildIn(t, "FROM "+base+"\nCOPY one.txt /srv/\n", map[string]string{"one.txt": "one"}, amd, func(o *Options) {
			o.BaseLayerDir = kept
		}, debugTo(&log))
		if strings.Contains(log.String(), "unpacked an outline") {
			t.Errorf("build %d outlined the base despite its kept layers", i+1)
		}
		if !strings.Contains(log.String(), "mounted a root") {
			t.Errorf("build %d did not mount the kept layers:\n%s", i+1, log.String())
		}
		if got := flatten(t, res.Image)["srv/one.txt"].Body; got != "one" {
			t.Errorf("build %d: /srv/one.txt = %q", i+1, got)
		}
	}
}
