package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/google/go-cmp/cmp"
)

// cacheData is where cache id's contents are on the host.
func cacheData(dir, id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(dir, hex.EncodeToString(sum[:]), "data")
}

// TestCacheMount keeps a cache's contents between builds, in both ways
// of finding changes: the second build sees what the first wrote, the
// image holds neither the cache's files nor a mount point it lacked, and
// a target the image has keeps its own files.
func TestCacheMount(t *testing.T) {
	for _, noOverlay := range []bool{false, true} {
		t.Run(map[bool]string{false: "overlay", true: "walk"}[noOverlay], func(t *testing.T) {
			base := busybox(t, file{name: "var/"}, file{name: "var/cache/"}, file{name: "var/cache/own", body: "image's"})
			mounts := t.TempDir()
			df := "FROM " + base + `
RUN --mount=type=cache,target=/cache echo run >> /cache/log && cat /cache/log > /seen
RUN --mount=type=cache,target=/var/cache,id=shared echo x > /var/cache/new && ls /var/cache > /listing
RUN --mount=type=cache,target=/other,id=shared ls /other > /other-listing
`
			var fs map[string]entry
			for range 2 {
				res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
					o.CacheMountDir, o.NoOverlay = mounts, noOverlay
				})
				fs = flatten(t, res.Image)
			}
			if got := fs["seen"].Body; got != "run\nrun\n" {
				t.Errorf("the second build saw %q in the cache, want two runs", got)
			}
			if got := fs["listing"].Body; got != "new\n" {
				t.Errorf("the cache at /var/cache held %q, want only what the step wrote", got)
			}
			if got := fs["other-listing"].Body; got != "new\n" {
				t.Errorf("the same id at another target held %q", got)
			}
			for p := range fs {
				if p == "cache" || strings.HasPrefix(p, "cache/") || p == "other" || p == "var/cache/new" {
					t.Errorf("%s is in the image", p)
				}
			}
			if fs["var/cache/own"].Body != "image's" {
				t.Error("the image's own file under the cache's target changed")
			}
		})
	}
}

// TestCacheMountOptions makes a cache the first time with mode, uid and
// gid, or seeded from a stage's directory; readonly refuses writes.
func TestCacheMountOptions(t *testing.T) {
	base := busybox(t)
	mounts := t.TempDir()
	df := "FROM " + base + ` AS seed
RUN mkdir -p /s/sub && echo seeded > /s/sub/f
FROM ` + base + `
RUN --mount=type=cache,target=/c,uid=1000,gid=50,mode=0710 stat -c '%u %g %a' /c > /made
RUN --mount=type=cache,target=/d,from=seed,source=/s cat /d/sub/f > /seeded
RUN --mount=type=cache,target=/e,readonly ! touch /e/x 2>/dev/null && echo refused > /ro
`
	fs := flatten(t, mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) { o.CacheMountDir = mounts }).Image)
	want := map[string]string{"made": "1000 50 710\n", "seeded": "seeded\n", "ro": "refused\n"}
	for p, body := range want {
		if fs[p].Body != body {
			t.Errorf("%s = %q, want %q", p, fs[p].Body, body)
		}
	}
}

// TestCacheMountLocked builds two stages at once that use one cache with
// sharing=locked: their steps never overlap.
func TestCacheMountLocked(t *testing.T) {
	base := busybox(t)
	mounts := t.TempDir()
	step := "RUN --mount=type=cache,target=/c,id=lock,sharing=locked echo start >> /c/log && sleep 0.3 && echo end >> /c/log && touch /%s\n"
	df := "FROM " + base + " AS a\n" + strings.ReplaceAll(step, "%s", "a") +
		"FROM " + base + " AS b\n" + strings.ReplaceAll(step, "%s", "b") +
		"FROM " + base + "\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
	mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) { o.CacheMountDir = mounts })
	log, err := os.ReadFile(filepath.Join(cacheData(mounts, "lock"), "log"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(log); got != "start\nend\nstart\nend\n" {
		t.Errorf("the locked cache's log is %q: the steps overlapped", got)
	}
}

// TestBindMount shows the context (read-only, what .dockerignore leaves
// out hidden), a private copy with rw, a stage's file and a tmpfs: none
// leaves anything in the image or the context.
func TestBindMount(t *testing.T) {
	base := busybox(t)
	df := "FROM " + base + ` AS build
RUN echo artifact > /artifact
FROM ` + base + `
RUN --mount=type=bind,target=/src cat /src/app.txt > /app && ! test -e /src/secret.txt && ! touch /src/x 2>/dev/null && echo ro > /ro
RUN --mount=type=bind,target=/src,rw echo changed > /src/app.txt && touch /src/new && cat /src/app.txt > /rw
RUN --mount=type=bind,target=/src,source=app.txt cat /src > /file
RUN --mount=type=bind,from=build,source=/artifact,target=/a cat /a > /from-stage
RUN --mount=type=tmpfs,target=/t,size=1m echo x > /t/f && busybox grep ' /t tmpfs' /proc/mounts | busybox grep -c size=1024k > /tmpfs
RUN ! test -e /src && ! test -e /t && ! test -e /a && echo gone > /gone
`
	dir := t.TempDir()
	files := map[string]string{"app.txt": "context\n", "secret.txt": "hidden\n", ".dockerignore": "secret.txt\n", "Dockerfile": df}
	if err := testenv.WriteFiles(dir, 0o644, files); err != nil {
		t.Fatal(err)
	}
	res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) { o.ContextDir = dir })
	if got, _ := os.ReadFile(filepath.Join(dir, "app.txt")); string(got) != "context\n" {
		t.Errorf("the rw bind changed the context's file: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Error("the rw bind wrote into the context")
	}
	fs := flatten(t, res.Image)
	want := map[string]string{"app": "context\n", "ro": "ro\n", "rw": "changed\n", "file": "context\n",
		"from-stage": "artifact\n", "tmpfs": "1\n", "gone": "gone\n"}
	got := map[string]string{}
	for p := range want {
		got[p] = fs[p].Body
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what the steps saw (-want +got):\n%s", diff)
	}
}

// TestMountKeys: a bind of the context is an input of the step's key, a
// cache's contents are not, and a context file's mtime is not either.
func TestMountKeys(t *testing.T) {
	base := busybox(t)
	store := t.TempDir()
	steps := &cache.Layout{Dir: filepath.Join(store, "steps")}
	ctxDir := t.TempDir()
	df := "FROM " + base + `
COPY keep.txt /keep.txt
RUN --mount=type=cache,target=/c echo $$ >> /c/n && echo cached > /one
RUN --mount=type=bind,source=bound.txt,target=/b cat /b > /two
`
	build := func(bound string) []string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ctxDir, "bound.txt"), []byte(bound), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := testenv.WriteFiles(ctxDir, 0o644, map[string]string{"keep.txt": "same\n", "Dockerfile": df}); err != nil {
			t.Fatal(err)
		}
		r := &recordingRunner{Chroot: isolation.Chroot{TempDir: t.TempDir()}}
		mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
			o.ContextDir, o.Cache, o.CacheMountDir = ctxDir, steps, filepath.Join(store, "mounts")
			o.Runner = r
		})
		return r.ran
	}
	if ran := build("v1\n"); len(ran) != 2 {
		t.Fatalf("the first build ran %d steps, want 2", len(ran))
	}
	if ran := build("v1\n"); len(ran) != 0 {
		t.Errorf("nothing changed (but mtimes) and the build ran %v", ran)
	}
	ran := build("v2\n")
	if len(ran) != 1 || !strings.Contains(ran[0], "/two") {
		t.Errorf("the bound file changed and the build ran %v, want the bind's step only", ran)
	}
}

// TestMountsCannotEscape: a symlink a step left in a cache, or in the
// root, never takes a later mount outside the root.
func TestMountsCannotEscape(t *testing.T) {
	base := busybox(t)
	mounts := t.TempDir()
	outside := t.TempDir()
	df := "FROM " + base + `
RUN --mount=type=cache,target=/c ln -s ` + outside + ` /c/link
`
	mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) { o.CacheMountDir = mounts })
	df2 := "FROM " + base + `
RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/c/link/t true
`
	if _, err := buildIn(t, df2, map[string]string{}, amd, func(o *Options) { o.CacheMountDir = mounts }); err == nil {
		t.Error("a mount through a symlink in a cache was made")
	}
	df3 := "FROM " + base + `
RUN ln -s ` + outside + ` /lnk
RUN --mount=type=tmpfs,target=/lnk/t test -d /lnk/t && echo inside > /lnk/t/f
RUN --mount=type=cache,target=/c busybox mknod /c/null c 1 3 && ! sh -c 'echo x > /c/null' 2>/dev/null
`
	mustBuildIn(t, df3, map[string]string{}, amd, func(o *Options) { o.CacheMountDir = mounts })
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("a mount reached the host directory %s: it holds %v", outside, left)
	}
}

// recordingRunner runs steps in chroot isolation and notes their commands.
type recordingRunner struct {
	isolation.Chroot
	mu  sync.Mutex
	ran []string
}

func (r *recordingRunner) Run(ctx context.Context, spec *isolation.Spec) error {
	r.mu.Lock()
	r.ran = append(r.ran, strings.Join(spec.Args, " "))
	r.mu.Unlock()
	return r.Chroot.Run(ctx, spec)
}

// TestCacheMountExport: with ExportCacheMounts a cache mount outlives its
// machine: a build on an empty cache-mount directory restores it from the
// step cache before the step that uses it; without, it starts empty.
func TestCacheMountExport(t *testing.T) {
	base := busybox(t)
	steps := &cache.Layout{Dir: t.TempDir()}
	df := "FROM " + base + `
ARG N
RUN --mount=type=cache,target=/c,id=go-build echo "build $N" >> /c/log && mkdir -p /c/deep && echo x > /c/deep/f && cat /c/log > /seen
`
	run := func(n string, export bool) string {
		t.Helper()
		res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
			o.Cache, o.ExportCacheMounts = steps, export
			o.CacheMountDir = t.TempDir() // every build on an empty machine
			o.BuildArgs = map[string]string{"N": n}
		})
		return flatten(t, res.Image)["seen"].Body
	}
	if got := run("1", true); got != "build 1\n" {
		t.Fatalf("first build saw %q", got)
	}
	if got := run("2", true); got != "build 1\nbuild 2\n" {
		t.Errorf("a build on an empty machine saw %q in the cache mount, want the first build's contents restored", got)
	}
	if got := run("3", false); got != "build 3\n" {
		t.Errorf("without the export the cache mount held %q, want it empty", got)
	}
}
