package integration

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tortureDockerfile: the build stage runs again on every trial (its
// NONCE changes its keys), with a RUN on Debian, a cache mount, COPY and
// layers to write and cache; the final image does not depend on NONCE,
// so every good build gives the same digest.
const tortureDockerfile = `ARG DEBIAN
ARG BUSYBOX
FROM $DEBIAN AS build
ARG NONCE
COPY src/ /src/
RUN --mount=type=cache,target=/cache echo "$NONCE" > /cache/last && mkdir -p /out && cp -a /usr/share/doc/apt /out/doc && cat /src/* > /out/all.txt
RUN cp /etc/debian_version /out/ && ls -lR /out > /dev/null
FROM $BUSYBOX
COPY --from=build /out/ /app/
RUN ls -R /app > /listing
`

// tortureTrials is how many kills TestKillAnywhere makes: a few in the
// test suite, $BUILDER_TORTURE_TRIALS (100 for the bench, see
// bench/README.md) when set.
func tortureTrials(t *testing.T) int {
	if s := os.Getenv("BUILDER_TORTURE_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("BUILDER_TORTURE_TRIALS=%q", s)
		}
		return n
	}
	return 6
}

// killTree kills pid and every process below it with SIGKILL, children
// found before their parent dies (a killed parent's children move away).
func killTree(pid int) {
	var tree []int
	var walk func(int)
	walk = func(p int) {
		tree = append(tree, p)
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p, p))
		for _, c := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(c); err == nil {
				walk(n)
			}
		}
	}
	// Stop them first, so none starts a new child meanwhile.
	walk(pid)
	for _, p := range tree {
		syscall.Kill(p, syscall.SIGSTOP)
	}
	tree = tree[:0]
	walk(pid)
	for _, p := range tree {
		syscall.Kill(p, syscall.SIGKILL)
	}
}

// killPhase names where a killed build was, from its last progress line.
func killPhase(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "pushing"), strings.Contains(l, "exporting to image") && strings.Contains(l, "DONE"):
			return "push"
		case strings.Contains(l, "exporting to image"):
			return "export"
		case strings.Contains(l, "the root filesystem"):
			return "unpack"
		case strings.Contains(l, "] RUN"):
			return "run"
		case strings.Contains(l, "] COPY"):
			return "copy"
		case strings.Contains(l, "load metadata"):
			return "pull"
		}
	}
	return "start"
}

// TestKillAnywhere kills a build with SIGKILL, its whole process tree, at
// a random moment, again and again on the same stores (--cache-dir, an
// oci: step cache, cache mounts, the work directory's parent); after
// each kill a normal build on those stores must succeed and give the
// image a build on fresh stores gives. It reports where the kills
// landed and what the next builds repaired.
func TestKillAnywhere(t *testing.T) {
	needs(t)
	deb := debianBase(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": tortureDockerfile, "src/a.txt": "a\n", "src/b.txt": "b\n"})
	args := func(stores, tag, nonce string) []string {
		return []string{"--context", ctx, "--destination", env.registry + "/torture/app:" + tag,
			"--build-arg", "DEBIAN=" + deb, "--build-arg", "BUSYBOX=" + env.busybox, "--build-arg", "NONCE=" + nonce,
			"--reproducible", "--cache", "--cache-repo", "oci:" + filepath.Join(stores, "steps"),
			"--cache-dir", filepath.Join(stores, "layers"), "--cache-mount-dir", filepath.Join(stores, "mounts"),
			"--work-dir", filepath.Join(stores, "work")}
	}
	start := time.Now()
	mustBuild(t, ctx, args(t.TempDir(), "fresh", "fresh")...)
	cold := time.Since(start)
	want := inspect(t, env.registry+"/torture/app:fresh", false)["Digest"]

	stores := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	phases := map[string]int{}
	repairs := map[string]int{}
	// Kills land within the time a build on these stores takes: the
	// first is cold, the later ones mostly warm.
	span := cold
	for trial := range tortureTrials(t) {
		nonce := strconv.Itoa(trial)
		if trial%4 == 3 {
			// Unpacked layers gone, as if evicted: this build unpacks.
			os.RemoveAll(filepath.Join(stores, "layers", "unpacked"))
		}
		cmd := exec.Command(env.builder, args(stores, "killed", nonce)...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(span))))
		killTree(cmd.Process.Pid)
		err := cmd.Wait()
		phase := killPhase(stderr.String())
		if err == nil {
			phase = "finished first"
		}
		phases[phase]++

		began := time.Now()
		r := runBuilder(t, ctx, nil, args(stores, "after", nonce)...)
		span = max(time.Since(began), 200*time.Millisecond)
		if r.code != 0 {
			t.Fatalf("trial %d (killed at %s): the next build failed: exit %d\n%s", trial, phase, r.code, tail(r.stderr, 30))
		}
		for _, sign := range []string{"damaged", "half written"} {
			repairs[sign] += strings.Count(r.stderr, sign)
		}
		if got := inspect(t, env.registry+"/torture/app:after", false)["Digest"]; got != want {
			t.Fatalf("trial %d (killed at %s): the next build made %v, fresh stores %v", trial, phase, got, want)
		}
	}
	// The last killed build's leftovers went with the build after it.
	if left, _ := os.ReadDir(filepath.Join(stores, "work")); len(left) != 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("the work directory's parent still holds %v", names)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), stores+"/") {
		t.Errorf("mounts left under the stores:\n%s", mounts)
	}
	var report []string
	for p, n := range phases {
		report = append(report, fmt.Sprintf("%s %d", p, n))
	}
	sort.Strings(report)
	t.Logf("%d kills by phase: %s; repairs by the next builds: %v; a cold build took %.1fs", tortureTrials(t), strings.Join(report, ", "), repairs, cold.Seconds())
}
