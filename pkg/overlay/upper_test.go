package overlay

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
	"github.com/buildcrew/builder/pkg/layers"
)

// keptLayers unpacks archives alone in overlayfs's form, as kept base
// layers are, bottom first.
func keptLayers(t *testing.T, ls ...[]byte) []string {
	t.Helper()
	var dirs []string
	for _, l := range ls {
		d := t.TempDir()
		must(t, os.Chmod(d, 0o755))
		must(t, layers.Extract(context.Background(), d, bytes.NewReader(l), layers.ExtractOptions{Whiteouts: true, OverlayForm: true}))
		dirs = append(dirs, d)
	}
	return dirs
}

// A stage on a mounted stack of kept layers, each step on an overlay of
// its upper directory and the layers, merged with MergeUpper, shows the
// same files after every step as a stage stacked into a directory of
// its own, each step merged with Merge; and an upper directory cloned
// over the same layers shows them again.
func TestMergeUpperMatchesMerge(t *testing.T) {
	needStackRoot(t)
	if err := Supported(t.TempDir()); err != nil {
		t.Skipf("overlayfs is not available here: %v", err)
	}
	dir := func(name string, mode int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode}
	}
	file := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg} }
	kept := keptLayers(t,
		tarOf(t, dir("etc/", 0o755), file("etc/conf"), dir("lib/", 0o755), file("lib/old"), file("lib/keep"),
			dir("data/", 0o755), file("data/gone"), dir("data/sub/", 0o700), file("data/sub/deep"), file("f"),
			dir("a/", 0o755), dir("a/b/", 0o755), file("a/b/old"), dir("opq/", 0o755), file("opq/below"),
			&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "etc"}),
		tarOf(t, dir("etc/", 0o750), file("etc/two"), dir("lib/", 0o755), file("lib/.wh.keep"), dir("opq/", 0o755), file("opq/.wh..wh..opq"), file("opq/above")),
	)
	for _, d := range kept[1:] {
		if v, _ := xattr.Get(d, xattr.Whole); string(v) != "y" {
			t.Fatalf("%s does not carry %s: every directory in it has an entry", d, xattr.Whole)
		}
	}
	if v, _ := xattr.Get(keptLayers(t, tarOf(t, file("implied/by/this")))[0], xattr.Whole); v != nil {
		t.Fatalf("a layer whose directories are only implied carries %s", xattr.Whole)
	}
	ctx := context.Background()
	topFirst := slices.Clone(kept)
	slices.Reverse(topFirst)

	steps := []func(m string){
		func(m string) {
			write(t, filepath.Join(m, "etc/conf"), "new")
			write(t, filepath.Join(m, "new/a"), "a")
			must(t, os.Link(filepath.Join(m, "new/a"), filepath.Join(m, "new/b")))
			must(t, os.Remove(filepath.Join(m, "lib/old")))
			must(t, os.Symlink("/etc/conf", filepath.Join(m, "new/sym")))
		},
		func(m string) {
			must(t, os.RemoveAll(filepath.Join(m, "data"))) // a lower directory made again: opaque
			write(t, filepath.Join(m, "data/x"), "x")
			must(t, os.Remove(filepath.Join(m, "f"))) // a file becomes a directory
			write(t, filepath.Join(m, "f/in"), "in")
			must(t, os.Chmod(filepath.Join(m, "etc"), 0o711)) // metadata only
		},
		func(m string) {
			must(t, os.RemoveAll(filepath.Join(m, "new"))) // only in the stage's upper
			must(t, os.RemoveAll(filepath.Join(m, "a/b"))) // opaque below a directory new to the upper
			write(t, filepath.Join(m, "a/b/new"), "new")
			write(t, filepath.Join(m, "lib/old/now-a-dir"), "over a whiteout of the upper's")
			write(t, filepath.Join(m, "opq/more"), "more")
		},
		func(m string) {
			must(t, os.Remove(filepath.Join(m, "data/x"))) // made by a step before
			must(t, os.RemoveAll(filepath.Join(m, "lib/old")))
			write(t, filepath.Join(m, "lib/old"), "a file again")
			write(t, filepath.Join(m, "new"), "a file where a whiteout is")
		},
	}

	ref := filepath.Join(t.TempDir(), "root")
	must(t, Stack(ctx, ref, kept, nil))
	stage, err := MountLayers(topFirst, t.TempDir(), "")
	must(t, err)
	t.Cleanup(func() { stage.Remove() })
	below, err := MountLower(topFirst, t.TempDir())
	must(t, err)
	t.Cleanup(func() { below.Unmount() })
	if diff := cmp.Diff(state(t, ref), state(t, stage.Merged)); diff != "" {
		t.Fatalf("before any step, the mounted stack differs from the stacked root (-stacked +mounted):\n%s", diff)
	}
	now := time.Unix(1_800_000_000, 0)
	for i, step := range steps {
		o, err := Mount(ref, t.TempDir())
		must(t, err)
		step(o.Merged)
		must(t, o.Unmount())
		must(t, Merge(ctx, o.Upper, ref, nil))
		o.Remove()

		must(t, stage.Unmount())
		r, err := MountLayers(append([]string{stage.Upper}, topFirst...), t.TempDir(), "")
		must(t, err)
		step(r.Merged)
		must(t, r.Unmount())
		must(t, MergeUpper(ctx, r.Upper, stage.Upper, below.Dir, nil))
		r.Remove()
		must(t, stage.Remount())

		// Times the steps gave differ by when they ran.
		for _, root := range []string{ref, stage.Merged} {
			must(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
				must(t, err)
				if p == root || fi.ModTime().Before(time.Unix(1_750_000_000, 0)) {
					return nil
				}
				ts := []unix.Timespec{unix.NsecToTimespec(now.UnixNano()), unix.NsecToTimespec(now.UnixNano())}
				return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
			}))
		}
		if diff := cmp.Diff(state(t, ref), state(t, stage.Merged)); diff != "" {
			t.Fatalf("after step %d (-merged into a directory +merged into the upper):\n%s", i+1, diff)
		}
	}
	for _, p := range kept {
		if v, _ := xattr.Get(p, xattr.Whole); string(v) != "y" && p != kept[0] {
			t.Errorf("a kept layer changed: %s", p)
		}
	}
	must(t, stage.Unmount())
	clone, err := MountLayers(topFirst, t.TempDir(), stage.Upper)
	must(t, err)
	t.Cleanup(func() { clone.Remove() })
	if diff := cmp.Diff(state(t, ref), state(t, clone.Merged)); diff != "" {
		t.Fatalf("an overlay over a clone of the upper directory differs (-stacked +cloned):\n%s", diff)
	}
}
