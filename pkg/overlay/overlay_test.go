package overlay

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/buildcrew/builder/pkg/layers"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, data string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(data), 0o644))
}

// state describes every path under root: type, mode, owner, size, content
// digest, link target, mtime (not for directories whose entries changed:
// the test compares those separately) and non-overlay attributes.
func state(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	inodes := map[uint64]string{}
	must(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		st := fi.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %o %d:%d mtime=%d", rel, st.Mode, st.Uid, st.Gid, st.Mtim.Nano())
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			must(t, err)
			line += fmt.Sprintf(" %x", sha256.Sum256(data))
			if first, ok := inodes[st.Ino]; ok {
				line += " linked-to=" + first
			} else if st.Nlink > 1 {
				inodes[st.Ino] = rel
			}
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		names := make([]byte, 4096)
		n, _ := unix.Llistxattr(p, names)
		for _, x := range strings.Split(string(names[:n]), "\x00") {
			if x != "" {
				line += " xattr=" + x
			}
		}
		out = append(out, line)
		return nil
	}))
	sort.Strings(out)
	return out
}

// overlayLower is a lower directory for an overlay the test mounts; the
// test skips where it cannot.
func overlayLower(t *testing.T) string {
	if os.Geteuid() != 0 {
		t.Skip("mounting an overlay needs root")
	}
	tmp := t.TempDir()
	if err := Supported(tmp); err != nil {
		t.Skipf("overlayfs is not available here: %v", err)
	}
	return filepath.Join(tmp, "lower")
}

func TestChangesAndMerge(t *testing.T) {
	lower := overlayLower(t)
	write(t, filepath.Join(lower, "etc/conf"), "old")
	write(t, filepath.Join(lower, "etc/passwd"), "root")
	write(t, filepath.Join(lower, "lib/old"), "old")
	write(t, filepath.Join(lower, "lib/keep"), "keep")
	write(t, filepath.Join(lower, "data/gone"), "gone")
	write(t, filepath.Join(lower, "data/sub/deep"), "deep")
	write(t, filepath.Join(lower, "bin/tool"), "tool")
	write(t, filepath.Join(lower, "f"), "file becomes dir")
	write(t, filepath.Join(lower, "d2/inside"), "dir becomes file")
	write(t, filepath.Join(lower, "attrs/x"), "x")
	write(t, filepath.Join(lower, "linked/one"), "shared")
	must(t, os.Link(filepath.Join(lower, "linked/one"), filepath.Join(lower, "linked/two")))
	past := time.Unix(1_000_000_000, 0)
	must(t, filepath.Walk(lower, func(p string, _ os.FileInfo, err error) error {
		must(t, err)
		return os.Chtimes(p, past, past)
	}))

	o, err := Mount(lower, t.TempDir())
	must(t, err)
	t.Cleanup(func() { o.Remove() })
	m := o.Merged
	write(t, filepath.Join(m, "etc/conf"), "new") // content: copy-up only of etc
	write(t, filepath.Join(m, "new/a"), "a")      // a new directory
	must(t, os.Link(filepath.Join(m, "new/a"), filepath.Join(m, "new/b")))
	must(t, os.Remove(filepath.Join(m, "lib/old"))) // a deletion
	must(t, os.RemoveAll(filepath.Join(m, "data"))) // a directory made again
	write(t, filepath.Join(m, "data/x"), "x")
	write(t, filepath.Join(m, "data/sub/fresh"), "fresh")  // in a lower directory's place
	must(t, os.Chmod(filepath.Join(m, "bin/tool"), 0o755)) // metadata only
	must(t, os.Remove(filepath.Join(m, "f")))              // a file becomes a directory
	write(t, filepath.Join(m, "f/in"), "in")
	must(t, os.RemoveAll(filepath.Join(m, "d2"))) // a directory becomes a file
	write(t, filepath.Join(m, "d2"), "now a file")
	must(t, unix.Lsetxattr(filepath.Join(m, "attrs"), "user.k", []byte("v"), 0))
	write(t, filepath.Join(m, "linked/one"), "changed")           // breaks the lower link (index=off)
	must(t, os.MkdirAll(filepath.Join(m, "moved/deeper"), 0o755)) // a lower file moved into a new tree
	must(t, os.Rename(filepath.Join(m, "lib/keep"), filepath.Join(m, "moved/deeper/keep")))
	// Entries told apart by the directory's record of their type, not
	// by an lstat: a link, a pipe, and a device that is not a whiteout.
	must(t, os.Symlink("tool", filepath.Join(m, "bin/alias")))
	must(t, unix.Mkfifo(filepath.Join(m, "new/pipe"), 0o600))
	must(t, unix.Mknod(filepath.Join(m, "etc/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	// A mount point made and removed, its directory's mtime put back, as
	// the chroot runner does: nothing to report.
	write(t, filepath.Join(m, "etc/stub"), "")
	must(t, os.Remove(filepath.Join(m, "etc/stub")))
	must(t, os.Chtimes(filepath.Join(m, "etc"), past, past))

	want := state(t, m)
	must(t, o.Unmount())
	got, err := Changes(t.Context(), o.Upper, lower)
	must(t, err)
	wantChanges := []layers.Entry{
		{Path: "attrs"},
		// bin and lib only gained and lost entries: as in BuildKit, a
		// directory's times alone are no change (the layer writes
		// them as the parents of what is).
		{Path: "bin/alias"},
		{Path: "bin/tool"},
		{Path: "d2"},
		// Made again: BuildKit's explicit whiteouts of what the lower
		// directories held, at every depth, not an opaque marker.
		{Path: "data"},
		{Path: "data/gone", Kind: layers.Deleted},
		{Path: "data/sub"},
		{Path: "data/sub/deep", Kind: layers.Deleted},
		{Path: "data/sub/fresh"},
		{Path: "data/x"},
		{Path: "etc/conf"},
		{Path: "etc/null"},
		{Path: "f"},
		{Path: "f/in"},
		{Path: "lib/keep", Kind: layers.Deleted},
		{Path: "lib/old", Kind: layers.Deleted},
		{Path: "linked/one"},
		{Path: "moved"},
		{Path: "moved/deeper"},
		{Path: "moved/deeper/keep"},
		{Path: "new"},
		{Path: "new/a"},
		{Path: "new/b"},
		{Path: "new/pipe"},
	}
	if diff := cmp.Diff(wantChanges, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	var removed []string
	must(t, Merge(t.Context(), o.Upper, lower, func(dir string) error {
		rel, _ := filepath.Rel(lower, dir)
		removed = append(removed, rel)
		return os.RemoveAll(dir)
	}))
	// Directories go through the caller's remover; files are unlinked.
	if diff := cmp.Diff([]string{"d2", "data"}, removed); diff != "" {
		t.Errorf("directories removed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, state(t, lower)); diff != "" {
		t.Errorf("lower after the merge differs from what the overlay showed (-overlay +lower):\n%s", diff)
	}
	must(t, o.Remove())
	if _, err := os.Stat(o.Upper); !os.IsNotExist(err) {
		t.Errorf("the scratch directory is still there: %v", err)
	}

	// The merged root serves as the next step's lower without surprises.
	o2, err := Mount(lower, t.TempDir())
	must(t, err)
	defer o2.Remove()
	if diff := cmp.Diff(want, state(t, o2.Merged)); diff != "" {
		t.Errorf("the next overlay shows something else (-first +second):\n%s", diff)
	}
}

func TestClone(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	write(t, filepath.Join(src, "etc/conf"), "conf")
	write(t, filepath.Join(src, "bin/tool"), "tool")
	must(t, os.Symlink("tool", filepath.Join(src, "bin/alias")))
	must(t, os.MkdirAll(filepath.Join(src, "empty"), 0o1777))
	must(t, os.Chmod(filepath.Join(src, "empty"), 0o1777))
	if os.Geteuid() == 0 {
		must(t, os.Chown(filepath.Join(src, "etc"), 12, 34))
	}
	must(t, unix.Lsetxattr(filepath.Join(src, "etc"), "user.k", []byte("v"), 0))
	past := time.Unix(1_000_000_000, 0)
	must(t, filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		must(t, err)
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		return os.Chtimes(p, past, past)
	}))
	want := state(t, src)
	dst := filepath.Join(tmp, "dst")
	must(t, Clone(t.Context(), src, dst))
	got := state(t, dst)
	// Every file is now linked from the other tree: drop what says so.
	for i := range got {
		got[i] = strings.Split(got[i], " linked-to=")[0]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("clone (-src +dst):\n%s", diff)
	}
	a, err := os.Stat(filepath.Join(src, "etc/conf"))
	must(t, err)
	b, err := os.Stat(filepath.Join(dst, "etc/conf"))
	must(t, err)
	if !os.SameFile(a, b) {
		t.Error("etc/conf was copied, not linked")
	}
	di, err := os.Stat(filepath.Join(dst, "etc"))
	must(t, err)
	if si, _ := os.Stat(filepath.Join(src, "etc")); os.SameFile(si, di) {
		t.Error("a directory is shared")
	}
}

// TestChangesLeaveOutUnchangedFiles: a file written again as it was (its
// contents, mode, owner and times) is no change, as in BuildKit's differ;
// one whose contents differ under the same size and times is, and so is
// a copied-up file that is one of several hard links.
func TestChangesLeaveOutUnchangedFiles(t *testing.T) {
	lower := overlayLower(t)
	for _, f := range []string{"same", "samens", "differs", "linked", "moved", "newtime"} {
		write(t, filepath.Join(lower, "etc", f), "content "+f)
	}
	must(t, os.Symlink("same", filepath.Join(lower, "etc/link")))
	whole := time.Unix(1_000_000_000, 0)
	withNS := time.Unix(1_000_000_000, 123456789)
	for _, f := range []string{"same", "differs", "linked", "moved", "newtime"} {
		must(t, os.Chtimes(filepath.Join(lower, "etc", f), whole, whole))
	}
	must(t, os.Chtimes(filepath.Join(lower, "etc/samens"), withNS, withNS))

	o, err := Mount(lower, t.TempDir())
	must(t, err)
	t.Cleanup(func() { o.Remove() })
	m := filepath.Join(o.Merged, "etc")
	rewrite := func(name, data string, at time.Time) {
		write(t, filepath.Join(m, name), data)
		must(t, os.Chtimes(filepath.Join(m, name), at, at))
	}
	rewrite("same", "content same", whole)
	rewrite("samens", "content samens", withNS)
	rewrite("differs", "CONTENT differs", whole) // same size and time
	rewrite("newtime", "content newtime", withNS)
	must(t, os.Link(filepath.Join(m, "linked"), filepath.Join(m, "linked2")))
	must(t, os.Rename(filepath.Join(m, "moved"), filepath.Join(m, "tmp")))
	must(t, os.Rename(filepath.Join(m, "tmp"), filepath.Join(m, "moved")))
	must(t, os.Remove(filepath.Join(m, "link")))
	must(t, os.Symlink("same", filepath.Join(m, "link")))
	must(t, unix.Lutimes(filepath.Join(m, "link"), []unix.Timeval{unix.NsecToTimeval(0), unix.NsecToTimeval(0)}))
	must(t, o.Unmount())

	got, err := Changes(t.Context(), o.Upper, lower)
	must(t, err)
	var paths []string
	for _, e := range got {
		paths = append(paths, e.Path)
	}
	want := []string{"etc/differs", "etc/link", "etc/linked", "etc/linked2", "etc/newtime"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}
