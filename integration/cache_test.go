package integration

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// counter is an HTTP endpoint RUN steps call, so the test sees which
// steps really ran.
type counter struct {
	hits atomic.Int32
	url  string
}

func startCounter(t *testing.T) *counter {
	t.Helper()
	c := &counter{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		w.Write([]byte("counted\n"))
	}))
	t.Cleanup(s.Close)
	c.url = s.URL
	return c
}

const cacheDockerfile = `ARG BUSYBOX
FROM $BUSYBOX AS build
RUN wget -q -O /fetched {{COUNTER}}/build && rm /etc/group
COPY app.txt /app.txt
RUN wget -q -O /dev/null {{COUNTER}}/after-copy && cat /app.txt > /app.copy
FROM $BUSYBOX
COPY --from=build /fetched /app.copy /out/
RUN wget -q -O /dev/null {{COUNTER}}/final && rm /etc/passwd
`

// TestCache builds with the step cache in the test registry and in a local
// OCI layout: a rebuild of an unchanged context runs no RUN and gives the
// same image; a changed file reruns only what follows its COPY.
func TestCache(t *testing.T) {
	needs(t)
	for _, mode := range []string{"registry", "oci layout"} {
		t.Run(mode, func(t *testing.T) {
			hits := startCounter(t)
			ctx := writeContext(t, map[string]string{
				"Dockerfile": strings.ReplaceAll(cacheDockerfile, "{{COUNTER}}", hits.url),
				"app.txt":    "one\n",
			})
			repo := env.registry + "/cached/" + strings.ReplaceAll(mode, " ", "-")
			layerDir := t.TempDir()
			args := []string{"--context", ctx, "--destination", repo + ":1", "--build-arg", "BUSYBOX=" + env.busybox,
				"--cache", "--cache-dir", layerDir}
			layout := filepath.Join(t.TempDir(), "cache")
			if mode == "oci layout" {
				args = append(args, "--cache-repo", "oci:"+layout)
			}
			first := mustBuild(t, ctx, args...)
			if got := hits.hits.Load(); got != 3 {
				t.Fatalf("cold build: %d RUN steps ran, want 3", got)
			}
			second := mustBuild(t, ctx, args...)
			if got := hits.hits.Load(); got != 3 {
				t.Errorf("rebuild: %d more RUN steps ran, want none", got-3)
			}
			if strings.Count(second.stderr, "CACHED") != 5 {
				t.Errorf("rebuild progress:\n%s", second.stderr)
			}
			if first.stdout != second.stdout {
				t.Errorf("rebuild pushed %s, the cold build %s", second.stdout, first.stdout)
			}
			run(t, "crane", "validate", "--remote", repo+":1")

			if err := os.WriteFile(filepath.Join(ctx, "app.txt"), []byte("two\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			third := mustBuild(t, ctx, args...)
			if got := hits.hits.Load(); got != 5 {
				t.Errorf("after changing app.txt: %d RUN steps ran, want the 2 after its COPY", got-3)
			}
			p := fetch(t, repo+":1")
			if strings.Count(third.stderr, "CACHED") != 1 {
				t.Errorf("want only the first RUN cached:\n%s", third.stderr)
			}
			for path, gone := range map[string]bool{"/out/fetched": false, "/out/app.copy": false, "/etc/passwd": true} {
				if _, ok := p.tree[path]; ok == gone {
					t.Errorf("%s present: %v", path, ok)
				}
			}
			if data, _ := os.ReadFile(filepath.Join(p.rootfs, "out/app.copy")); string(data) != "two\n" {
				t.Errorf("app.copy = %q", data)
			}
			if mode == "oci layout" {
				refs := run(t, "umoci", "ls", "--layout", layout)
				if strings.Count(refs, "\n") < 5 {
					t.Errorf("umoci sees %q in the cache layout", refs)
				}
			} else {
				tags := run(t, "crane", "ls", repo+"/cache")
				if strings.Count(tags, "\n") < 5 {
					t.Errorf("cache repository tags: %q", tags)
				}
			}
			blobs, _ := filepath.Glob(filepath.Join(layerDir, "sha256", "*"))
			if len(blobs) == 0 {
				t.Error("--cache-dir kept no base layer")
			}
		})
	}
}

// TestCacheFreshClone builds two clones of one commit, the second with
// other mtimes and owners (a CI runner's fresh checkout): the second
// build runs nothing and pushes the same image.
func TestCacheFreshClone(t *testing.T) {
	needs(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git (Debian package git)")
	}
	src := writeContext(t, map[string]string{
		"Dockerfile":   "ARG BUSYBOX\nFROM $BUSYBOX\nCOPY app/ /app/\nRUN cat /app/main.txt > /copy\n",
		"app/main.txt": "main\n", "app/lib/util.txt": "util\n",
	})
	gitEnv := []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null"}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "c"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = src, append(os.Environ(), gitEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	clones := t.TempDir()
	layout := filepath.Join(t.TempDir(), "cache")
	var results []result
	for i, name := range []string{"first", "second"} {
		dir := filepath.Join(clones, name)
		run(t, "git", "clone", "-q", src, dir)
		if i == 1 {
			// Another day, another user: every mtime and owner differs.
			later := time.Now().Add(48 * time.Hour)
			filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
				if err == nil {
					os.Lchown(p, 1000, 1000)
					os.Chtimes(p, later, later)
				}
				return nil
			})
		}
		results = append(results, mustBuild(t, dir, "--context", dir, "--destination", env.registry+"/fresh-clone:1",
			"--build-arg", "BUSYBOX="+env.busybox, "--cache", "--cache-repo", "oci:"+layout))
	}
	if n := strings.Count(results[1].stderr, "CACHED"); n != 2 {
		t.Errorf("the second clone's build cached %d steps, want COPY and RUN:\n%s", n, results[1].stderr)
	}
	if results[0].stdout != results[1].stdout {
		t.Errorf("the clones gave %s and %s", results[0].stdout, results[1].stdout)
	}
}
