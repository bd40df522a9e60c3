package copier

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/patternmatcher"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/layers"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	if err := testenv.WriteFiles(root, 0o640, files); err != nil {
		t.Fatal(err)
	}
}

// paths lists the entries' paths and owners.
func paths(es []layers.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s %d:%d", e.Path, e.Owner.UID, e.Owner.GID))
	}
	return out
}

// TestCopyDirectory copies a context directory: its contents, symlinks as
// links, .dockerignore'd and --exclude'd files left out, every path
// written listed with the owner --chown gave it, --chmod applied.
func TestCopyDirectory(t *testing.T) {
	ctxDir, root := t.TempDir(), t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"app/main.go": "package main\n", "app/link": "->main.go", "app/notes.md": "notes\n",
		"app/secret.key": "key\n", "app/sub/data": "data\n",
	})
	ignore, err := patternmatcher.New([]string{"**/*.key"})
	if err != nil {
		t.Fatal(err)
	}
	excludes, err := patternmatcher.New([]string{"*.md"})
	if err != nil {
		t.Fatal(err)
	}
	src := &Source{Root: ctxDir, Ignore: ignore, Context: true, Name: "the build context"}
	mode, err := ParseChmod("600")
	if err != nil {
		t.Fatal(err)
	}
	cp := New(root, src, Options{Owner: &layers.Owner{UID: 1000, GID: 1000}, Mode: mode, Excludes: excludes})
	matches, err := src.Resolve("app")
	if err != nil || len(matches) != 1 {
		t.Fatalf("Resolve: %v %v", matches, err)
	}
	if err := cp.Copy(context.Background(), matches[0], "/srv/", false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o755) })
	})
	want := []string{"srv 1000:1000", "srv/link 1000:1000", "srv/main.go 1000:1000", "srv/sub 1000:1000", "srv/sub/data 1000:1000"}
	if diff := cmp.Diff(want, paths(cp.Entries())); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if target, err := os.Readlink(filepath.Join(root, "srv/link")); err != nil || target != "main.go" {
		t.Errorf("link: %q %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "srv/main.go")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("main.go: %v %v", fi.Mode(), err)
	}
	for _, gone := range []string{"srv/secret.key", "srv/notes.md"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("%s was copied", gone)
		}
	}
	if _, err := src.Resolve("app/secret.key"); err == nil || !strings.Contains(err.Error(), "not found in the build context") {
		t.Errorf("an ignored source resolved: %v", err)
	}
}

// TestWriteFileReplaces: a file COPY writes replaces what was there (a new
// file, never the old one written in place: roots may share inodes), and
// a directory in the way is an error.
func TestWriteFileReplaces(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"etc/motd": "old\n", "dir/x/inner": "x"})
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Link(filepath.Join(root, "etc/motd"), shared); err != nil {
		t.Fatal(err)
	}
	cp := New(root, nil, Options{})
	mtime := time.Unix(1e9, 0)
	if err := cp.WriteFile("/etc/motd", "ignored", strings.NewReader("new\n"), 0o644, mtime); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/motd")); string(data) != "new\n" {
		t.Errorf("motd = %q", data)
	}
	if data, _ := os.ReadFile(shared); string(data) != "old\n" {
		t.Errorf("the other link of the old file changed: %q", data)
	}
	if err := cp.WriteFile("/etc/", "issue", strings.NewReader("hi\n"), 0o644, mtime); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/issue")); err != nil || !fi.ModTime().Equal(mtime) {
		t.Errorf("etc/issue: %v", err)
	}
	if err := cp.WriteFile("/dir/", "x", strings.NewReader("x"), 0o644, mtime); err == nil || !strings.Contains(err.Error(), "cannot replace the directory /dir/x with a file") {
		t.Errorf("a file replaced a directory: %v", err)
	}
	if diff := cmp.Diff([]string{"etc/issue 0:0", "etc/motd 0:0"}, paths(cp.Entries())); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestWriteFileThroughSymlink: a symlink at the destination is followed
// inside the root (absolute, relative, dangling, escaping by ".."): the
// file replaces what it points to and the link stays, as in BuildKit,
// which makes the directories a link leads into when they are missing.
func TestWriteFileThroughSymlink(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"real/file": "old\n"})
	for link, target := range map[string]string{
		"abs": "/real/file", "rel": "real/file2", "dangling": "/real/new", "up": "../../../real/up", "nodir": "/nowhere/x",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	cp := New(root, nil, Options{})
	for _, dest := range []string{"/abs", "/rel", "dangling", "/up", "/nodir"} {
		if err := cp.WriteFile(dest, "ignored", strings.NewReader(dest), 0o644, time.Unix(0, 0)); err != nil {
			t.Fatalf("%s: %v", dest, err)
		}
	}
	for p, want := range map[string]string{"real/file": "/abs", "real/file2": "/rel", "real/new": "dangling", "real/up": "/up", "nowhere/x": "/nodir"} {
		if data, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(data) != want {
			t.Errorf("%s = %q %v, want %q", p, data, err, want)
		}
	}
	for _, link := range []string{"abs", "rel", "dangling", "up", "nodir"} {
		if fi, err := os.Lstat(filepath.Join(root, link)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symlink: %v", link, err)
		}
	}
	if diff := cmp.Diff([]string{"nowhere 0:0", "nowhere/x 0:0", "real/file 0:0", "real/file2 0:0", "real/new 0:0", "real/up 0:0"}, paths(cp.Entries())); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// ExampleCopier copies one file of a source into a root and lists what
// the layer is to hold.
func ExampleCopier() {
	src, _ := os.MkdirTemp("", "src-")
	root, _ := os.MkdirTemp("", "root-")
	defer os.RemoveAll(src)
	defer os.RemoveAll(root)
	os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello\n"), 0o644)

	s := &Source{Root: src, Name: "the example"}
	cp := New(root, s, Options{Owner: &layers.Owner{UID: 0, GID: 0}})
	matches, _ := s.Resolve("*.txt")
	for _, m := range matches {
		cp.Copy(context.Background(), m, "/greetings/", false)
	}
	for _, e := range cp.Entries() {
		fmt.Println(e.Path)
	}
	// Output:
	// greetings
	// greetings/hello.txt
}

// TestParseChmod: octal modes replace the source's, symbolic ones change
// it, as BuildKit's COPY --chmod (fsutil with dchapes-mode) does.
func TestParseChmod(t *testing.T) {
	tests := []struct {
		spec  string
		cur   uint32
		dir   bool
		want  uint32
		fails string
	}{
		{spec: "755", cur: 0o600, want: 0o755},
		{spec: "4755", cur: 0o600, want: 0o4755},
		{spec: "u+x", cur: 0o640, want: 0o740},
		{spec: "go-w", cur: 0o666, want: 0o644},
		{spec: "a=rX", cur: 0o640, want: 0o444},
		{spec: "a=rX", cur: 0o750, dir: true, want: 0o555},
		{spec: "u=rwx,g=rx,o=", cur: 0o4644, want: 0o750}, // = clears setuid, as chmod(1)
		{spec: "g+s", cur: 0o755, dir: true, want: 0o2755},
		{spec: "+t", cur: 0o777, dir: true, want: 0o1777},
		{spec: "17777", fails: "it should be octal string and between 0 and 07777"},
		{spec: "9", fails: "it should be octal string"},
		{spec: "u+q", fails: ""},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			c, err := ParseChmod(tc.spec)
			if tc.fails != "" || (err != nil && tc.want == 0) {
				if err == nil || !strings.Contains(err.Error(), tc.fails) {
					t.Fatalf("ParseChmod(%q) = %v, want an error with %q", tc.spec, err, tc.fails)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.apply(tc.cur, tc.dir); got != tc.want {
				t.Errorf("%q on %04o = %04o, want %04o", tc.spec, tc.cur, got, tc.want)
			}
		})
	}
}

// TestChmodDestinationDirectory: every directory COPY makes on the way
// (the destination, its parents) takes an octal --chmod; a symbolic one,
// or a directory that was there, keeps its mode (BuildKit v0.34.2's
// results).
func TestChmodDestinationDirectory(t *testing.T) {
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{"dir/f": "f"})
	src := &Source{Root: ctxDir, Context: true, Name: "the build context"}
	for _, tc := range []struct {
		chmod  string
		exists bool
		want   os.FileMode
	}{{"700", false, 0o700}, {"700", true, 0o711}, {"a=rX", false, 0o755}} {
		root := t.TempDir()
		if tc.exists {
			if err := os.Mkdir(filepath.Join(root, "d"), 0o711); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(root, "d"), 0o711)
		}
		mode, err := ParseChmod(tc.chmod)
		if err != nil {
			t.Fatal(err)
		}
		matches, err := src.Resolve("dir")
		if err != nil {
			t.Fatal(err)
		}
		if err := New(root, src, Options{Mode: mode}).Copy(context.Background(), matches[0], "/d", false); err != nil {
			t.Fatal(err)
		}
		if err := New(root, src, Options{Mode: mode}).Copy(context.Background(), matches[0], "/p/q/", false); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"p", "p/q"} {
			made := os.FileMode(0o755)
			if tc.chmod == "700" {
				made = 0o700
			}
			if fi, err := os.Stat(filepath.Join(root, d)); err != nil || fi.Mode().Perm() != made {
				t.Errorf("--chmod=%s: /%s made as %v (%v), want %v", tc.chmod, d, fi.Mode().Perm(), err, made)
			}
		}
		fi, err := os.Stat(filepath.Join(root, "d"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tc.want {
			t.Errorf("--chmod=%s, existing %v: /d is %v, want %v", tc.chmod, tc.exists, fi.Mode().Perm(), tc.want)
		}
	}
}

// TestCopyDirectoryTimes: the destination of a directory's contents, made
// by the copy or already there, gets the source directory's times and
// keeps its own mode, as in BuildKit (checked with v0.34.2).
func TestCopyDirectoryTimes(t *testing.T) {
	ctxDir, root := t.TempDir(), t.TempDir()
	writeTree(t, ctxDir, map[string]string{"app/v": "1\n"})
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chmod(filepath.Join(ctxDir, "app"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(ctxDir, "app"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "exists"), 0o711); err != nil {
		t.Fatal(err)
	}
	src := &Source{Root: ctxDir, Context: true, Name: "the build context"}
	for dest, mode := range map[string]os.FileMode{"/new/": 0o755, "/exists/": 0o711} {
		cp := New(root, src, Options{})
		matches, err := src.Resolve("app")
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.Copy(context.Background(), matches[0], dest, false); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(root, dest))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(old) || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want %v %v", dest, fi.ModTime(), fi.Mode().Perm(), old, mode)
		}
	}
}
