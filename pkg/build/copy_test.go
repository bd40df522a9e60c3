package build

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// got summarizes selected paths of a flattened image as "type mode uid:gid body".
func summary(t *testing.T, res *Result, paths ...string) map[string]string {
	t.Helper()
	fs := flatten(t, res.Image)
	out := map[string]string{}
	for _, p := range paths {
		e, ok := fs[p]
		if !ok {
			out[p] = "missing"
			continue
		}
		s := string(rune(e.Type)) + " " + octal(e.Mode) + " " + itoa(e.UID) + ":" + itoa(e.GID)
		if e.Body != "" {
			s += " " + e.Body
		}
		if e.Link != "" {
			s += " -> " + e.Link
		}
		out[p] = s
	}
	return out
}

func octal(m int64) string { return fmt.Sprintf("%04o", m) }

func itoa(n int) string { return strconv.Itoa(n) }

func TestCopy(t *testing.T) {
	files := map[string]string{
		"a.txt": "A", "b.txt": "B", "dir/x": "X", "dir/sub/y": "Y", "other/z": "Z",
		"ignored.log": "I", "dir/skip.log": "S", "keep/me.log": "K",
		".dockerignore": "*.log\n**/*.log\n!keep/me.log\n",
	}
	tests := []struct {
		name  string
		steps string
		want  map[string]string
	}{
		{"file to a path", "COPY a.txt /f", map[string]string{"f": "0 0644 0:0 A"}},
		{"file into a directory", "COPY a.txt /d/", map[string]string{"d": "5 0755 0:0", "d/a.txt": "0 0644 0:0 A"}},
		{"directory contents", "COPY dir /app", map[string]string{
			"app/x": "0 0644 0:0 X", "app/sub/y": "0 0644 0:0 Y", "app/dir": "missing", "app/skip.log": "missing"}},
		{"glob", "COPY *.txt /g/", map[string]string{"g/a.txt": "0 0644 0:0 A", "g/b.txt": "0 0644 0:0 B"}},
		{"glob matching a directory copies its contents", "COPY d?r /h/", map[string]string{"h/x": "0 0644 0:0 X"}},
		{"dockerignore exception", "COPY . /ctx/", map[string]string{
			"ctx/ignored.log": "missing", "ctx/keep/me.log": "0 0644 0:0 K", "ctx/a.txt": "0 0644 0:0 A"}},
		{"chown numeric, user only", "COPY --chown=10 a.txt /o", map[string]string{"o": "0 0644 10:10 A"}},
		{"chown user and group", "COPY --chown=10:20 a.txt /o", map[string]string{"o": "0 0644 10:20 A"}},
		{"chown reaches created parents", "COPY --chown=7:7 a.txt /p/q/", map[string]string{"p": "5 0755 7:7", "p/q": "5 0755 7:7", "p/q/a.txt": "0 0644 7:7 A"}},
		{"chmod", "COPY --chmod=4750 a.txt /m", map[string]string{"m": "0 4750 0:0 A"}},
		{"relative to WORKDIR", "WORKDIR /w\nCOPY a.txt rel/", map[string]string{"w/rel/a.txt": "0 0644 0:0 A"}},
		{"dot is WORKDIR", "WORKDIR /w\nCOPY a.txt .", map[string]string{"w/a.txt": "0 0644 0:0 A"}},
		{"here-document", "COPY <<EOF /etc/conf\nhello $NAME\nEOF", map[string]string{"etc/conf": "0 0644 0:0 hello \n"}},
		{"leading ../ stays in the context", "COPY ../../a.txt /up", map[string]string{"up": "0 0644 0:0 A"}},
		{"several sources", "COPY a.txt b.txt /many/", map[string]string{"many/a.txt": "0 0644 0:0 A", "many/b.txt": "0 0644 0:0 B"}},
		{"exclude", "COPY --exclude=sub dir /e", map[string]string{"e/x": "0 0644 0:0 X", "e/sub": "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustBuildIn(t, "FROM scratch\n"+tt.steps+"\n", copyMap(files))
			paths := make([]string, 0, len(tt.want))
			for p := range tt.want {
				paths = append(paths, p)
			}
			if diff := cmp.Diff(tt.want, summary(t, res, paths...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestCopyKeepsMetadata(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY src /dst/\nCOPY link-to-file /followed\n"), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "src/sub"), 0o750))
	must(os.WriteFile(filepath.Join(dir, "src/f"), []byte("content"), 0o640))
	must(os.Symlink("f", filepath.Join(dir, "src/rel-link")))
	must(os.Symlink("/nowhere", filepath.Join(dir, "src/dangling")))
	must(os.Link(filepath.Join(dir, "src/f"), filepath.Join(dir, "src/hard")))
	must(os.WriteFile(filepath.Join(dir, "target"), []byte("T"), 0o600))
	must(os.Symlink("target", filepath.Join(dir, "link-to-file")))
	old := mustTime("2001-02-03T04:05:06Z")
	must(os.Chtimes(filepath.Join(dir, "src/f"), old, old))

	res, err := Build(t.Context(), Options{ContextDir: dir, WorkDir: t.TempDir()})
	must(err)
	defer res.Close()
	fs := flatten(t, res.Image)
	if e := fs["dst/f"]; !e.ModTime.Equal(old) || e.Mode != 0o640 {
		t.Errorf("dst/f: mtime %v mode %o, want the source's %v 0640", e.ModTime, e.Mode, old)
	}
	if e := fs["dst/sub"]; e.Mode != 0o750 || e.Type != tar.TypeDir {
		t.Errorf("dst/sub: %+v", e)
	}
	if e := fs["dst/rel-link"]; e.Type != tar.TypeSymlink || e.Link != "f" {
		t.Errorf("a symlink inside a copied directory must stay a link: %+v", e)
	}
	if e := fs["dst/dangling"]; e.Type != tar.TypeSymlink || e.Link != "/nowhere" {
		t.Errorf("a dangling symlink must be kept: %+v", e)
	}
	if e := fs["followed"]; e.Type != tar.TypeReg || e.Body != "T" {
		t.Errorf("a symlink named as the source must be followed: %+v", e)
	}
	names := layerNames(t, res.Image, 0)[0]
	if !containsAll(names, "dst/f", "dst/hard") {
		t.Fatalf("layer entries %v", names)
	}
	ls, _ := res.Image.Layers()
	rc, _ := ls[0].Uncompressed()
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal("no hardlink entry in the layer")
		}
		if h.Name == "dst/hard" {
			if h.Typeflag != tar.TypeLink || h.Linkname != "dst/f" {
				t.Errorf("dst/hard: type %q link %q, want a hardlink to dst/f", h.Typeflag, h.Linkname)
			}
			break
		}
	}
}

func containsAll(list []string, want ...string) bool {
	set := map[string]bool{}
	for _, s := range list {
		set[s] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

func TestCopyErrors(t *testing.T) {
	tests := []struct{ name, df, want string }{
		{"missing source", "FROM scratch\nCOPY nope /x\n", `Dockerfile:2: COPY nope /x: "nope" not found in the build context`},
		{"ignored source", "FROM scratch\nCOPY skip.log /x\n", `"skip.log" not found in the build context (or it is excluded by .dockerignore)`},
		{"several sources need a slash", "FROM scratch\nCOPY a b /x\n", "the destination must be a directory and end with a /"},
		{"URL in COPY", "FROM scratch\nCOPY http://example.com/x /x\n", "source can't be a URL for COPY"},
		{"bad chmod", "FROM scratch\nCOPY --chmod=999 a /x\n", "invalid chmod parameter"},
		{"unknown chown name", "FROM scratch\nCOPY --chown=nobody a /x\n", "unable to find user nobody"},
		{"file onto a directory", "FROM scratch\nCOPY b /d/a/\nCOPY a /d/\n", "Dockerfile:3: COPY a /d/: cannot replace the directory /d/a with a file"},
		{"later stage", "FROM scratch\nCOPY --from=later /a /a\nFROM scratch AS later\n", "needs to be defined before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildIn(t, tt.df, map[string]string{"a": "A", "b": "B", "skip.log": "", ".dockerignore": "*.log"}, func(o *Options) { o.Target = "" })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCopyFromImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the image's owners survive its unpacking only as root: unprivileged, every file is the builder's")
	}
	host := testRegistry(t)
	img := pushImage(t, host+"/tools:1", v1.Config{}, amd64, layerOf(t,
		file{name: "usr/"}, file{name: "usr/bin/"}, file{name: "usr/bin/tool", body: "tool", mode: 0o755, uid: 3, gid: 4}))
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nCOPY --from=" + host + "/tools:1 /usr/bin/tool /by-tag\nCOPY --from=" + host + "/tools@" + digest.String() + " /usr/bin/tool /by-digest\n"
	res := mustBuildIn(t, df, map[string]string{}, func(o *Options) { o.Platform = "linux/amd64" })
	got := summary(t, res, "by-tag", "by-digest")
	want := map[string]string{"by-tag": "0 0755 3:4 tool", "by-digest": "0 0755 3:4 tool"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("COPY --from an image keeps the owner (-want +got):\n%s", diff)
	}
}

func TestCopyChownByName(t *testing.T) {
	host := testRegistry(t)
	pushImage(t, host+"/base:1", v1.Config{}, amd64, layerOf(t,
		file{name: "etc/"},
		file{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"},
		file{name: "etc/group", body: "root:x:0:\nstaff:x:50:\napp:x:1001:\n"}))
	df := "FROM " + host + "/base:1\nCOPY --chown=app a /user-only\nCOPY --chown=app:staff a /both\nCOPY --chown=app:7 a /mixed\nCOPY --chown=root a /root-by-name\n" +
		"COPY --chown=:staff a /group-only\nCOPY --chown=:9 a /gid-only\n"
	res := mustBuildIn(t, df, map[string]string{"a": "A"}, func(o *Options) { o.Platform = "linux/amd64" })
	want := map[string]string{
		"user-only": "0 0644 1000:1001 A", "both": "0 0644 1000:50 A",
		"mixed": "0 0644 1000:7 A", "root-by-name": "0 0644 0:0 A",
		// BuildKit reads an empty user as root.
		"group-only": "0 0644 0:50 A", "gid-only": "0 0644 0:9 A",
	}
	if diff := cmp.Diff(want, summary(t, res, "user-only", "both", "mixed", "root-by-name", "group-only", "gid-only")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := buildIn(t, "FROM "+host+"/base:1\nCOPY --chown=app:nogroup a /x\n", map[string]string{"a": "A"},
		func(o *Options) { o.Platform = "linux/amd64" }); err == nil || !strings.Contains(err.Error(), "unable to find group nogroup") {
		t.Errorf("unknown group: %v", err)
	}
}
