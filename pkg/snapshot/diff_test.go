package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/buildcrew/builder/pkg/layers"
	"github.com/google/go-cmp/cmp"
)

// tree builds a small filesystem under a temp dir.
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/lib", "usr/share/doc", "gone/deep", "replace-me/x", "swap"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	for _, f := range []string{"etc/passwd", "etc/hosts", "usr/lib/a.so", "gone/deep/f", "replace-me/x/old", "replace-me/keep", "file-to-dir", "swap/f"} {
		must(t, os.WriteFile(filepath.Join(root, f), []byte(f), 0o644))
	}
	must(t, os.Symlink("a.so", filepath.Join(root, "usr/lib/link.so")))
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func walk(t *testing.T, root string) *Tree {
	t.Helper()
	tr, err := Walk(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestDiff(t *testing.T) {
	root := tree(t)
	before := walk(t, root)
	// Let mtimes differ from the originals even on coarse clocks.
	time.Sleep(10 * time.Millisecond)
	p := func(s string) string { return filepath.Join(root, s) }

	must(t, os.WriteFile(p("etc/new"), []byte("n"), 0o600))          // add
	must(t, os.WriteFile(p("etc/passwd"), []byte("changed"), 0o644)) // modify content
	must(t, os.Chmod(p("usr/lib/a.so"), 0o4755))                     // setuid only
	must(t, os.RemoveAll(p("gone")))                                 // delete a subtree
	must(t, os.RemoveAll(p("replace-me")))                           // delete and recreate
	must(t, os.MkdirAll(p("replace-me"), 0o755))
	must(t, os.WriteFile(p("replace-me/fresh"), nil, 0o644))
	must(t, os.Remove(p("file-to-dir"))) // type change
	must(t, os.Mkdir(p("file-to-dir"), 0o755))
	must(t, os.Remove(p("usr/lib/link.so"))) // new symlink target
	must(t, os.Symlink("b.so", p("usr/lib/link.so")))
	must(t, os.RemoveAll(p("swap"))) // dir becomes a file
	must(t, os.WriteFile(p("swap"), nil, 0o644))

	got := Diff(before, walk(t, root))
	// etc and usr/lib only gained entries: their times alone are no
	// change, as in BuildKit.
	want := []layers.Entry{
		{Path: "etc/new"},
		{Path: "etc/passwd"},
		{Path: "file-to-dir"},
		{Path: "gone", Kind: layers.Deleted},
		// Made again: what it held is whited out by name, as BuildKit does.
		{Path: "replace-me"},
		{Path: "replace-me/fresh"},
		{Path: "replace-me/keep", Kind: layers.Deleted},
		{Path: "replace-me/x", Kind: layers.Deleted},
		{Path: "swap"},
		{Path: "usr/lib/a.so"},
		{Path: "usr/lib/link.so"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
}

func TestDiffNothingChanged(t *testing.T) {
	root := tree(t)
	before := walk(t, root)
	if got := Diff(before, walk(t, root)); len(got) != 0 {
		t.Errorf("Diff of an untouched tree = %v", got)
	}
}

func TestDiffDirectoryMtimeRestored(t *testing.T) {
	// A mount stub made and removed, with the directory's mtime put back,
	// must not show: only the directory's ctime moved.
	root := tree(t)
	etc := filepath.Join(root, "etc")
	fi, err := os.Stat(etc)
	must(t, err)
	before := walk(t, root)
	must(t, os.WriteFile(filepath.Join(etc, "stub"), nil, 0o644))
	must(t, os.Remove(filepath.Join(etc, "stub")))
	must(t, os.Chtimes(etc, fi.ModTime(), fi.ModTime()))
	if got := Diff(before, walk(t, root)); len(got) != 0 {
		t.Errorf("Diff = %v, want nothing", got)
	}
}

func TestDiffMetadataOnly(t *testing.T) {
	root := tree(t)
	before := walk(t, root)
	f := filepath.Join(root, "etc/hosts")
	old := time.Unix(1000, 0)
	must(t, os.Chtimes(f, old, old))
	got := Diff(before, walk(t, root))
	if diff := cmp.Diff([]layers.Entry{{Path: "etc/hosts"}}, got); diff != "" {
		t.Errorf("touch -d (-want +got):\n%s", diff)
	}

	before = walk(t, root)
	// A hardlink to a lower file changes that file's link count (its ctime).
	must(t, os.Link(f, filepath.Join(root, "etc/hosts.link")))
	got = Diff(before, walk(t, root))
	want := []layers.Entry{{Path: "etc/hosts"}, {Path: "etc/hosts.link"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hardlink (-want +got):\n%s", diff)
	}
}

func TestWalkSkip(t *testing.T) {
	root := tree(t)
	tr, err := Walk(context.Background(), root, Options{Skip: func(rel string) bool { return rel == "usr" }})
	must(t, err)
	if tr.Has("usr") || tr.Has("usr/lib/a.so") {
		t.Error("skipped subtree was recorded")
	}
	if !tr.Has("etc/passwd") || !tr.IsDir("etc") {
		t.Error("etc was not recorded")
	}
}
