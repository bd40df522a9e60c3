// Command bench builds the workloads under bench/workloads with this
// builder, with buildah (--layers, overlay storage, chroot isolation) and,
// when scripts/build-buildkit has built it, with BuildKit itself (a cold
// daemon per build and a warm one that keeps its bases), alternately,
// against a registry on loopback, and prints per workload the median wall
// times, their ratios, the builder's time per phase and every tool's peak
// RSS. The builder runs cold and warm (base layers kept in --cache-dir).
// The "cache" workload is built cold, then fully cached, then after
// changing a file copied late; "gomod" as two CI jobs on fresh runners,
// with and without --export-cache-mounts; "goapp" (not run unless named:
// minutes per build) compiles this repository's builder in a build stage
// and ships the binary alone. Run it as root:
//
//	go run ./bench -runs 3
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/buildcrew/builder/internal/testenv"
)

func main() {
	runs := flag.Int("runs", 3, "builds per tool and workload")
	only := flag.String("workloads", "small,steps,manyfiles,bigcopy,multistage,manystages,biglayer,appimage,crossplatform,cache,gomod", "comma-separated workloads to run")
	out := flag.String("out", "bench/results/latest.md", "where to write the results table")
	flag.Parse()
	if err := run(*runs, strings.Split(*only, ","), *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// env is the benchmark's registry, bases and tools.
type env struct {
	tmp, builder, registry string
	args                   []string // --build-arg BUSYBOX=... DEBIAN=...
	debianLayout           string   // the Debian base's OCI layout, for the unpack floor
}

func run(runs int, workloads []string, out string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root: both builders run RUN steps in namespaces")
	}
	tmp, err := os.MkdirTemp("", "builder-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	e := &env{tmp: tmp, builder: filepath.Join(tmp, "builder")}
	// Static, as scripts/build-image ships it: every RUN starts the
	// binary again, and without the dynamic loader it starts about 4 ms
	// sooner (the helper's start 21.3 -> 16.8 ms here).
	gobuild := exec.Command("go", "build", "-o", e.builder, "./cmd/builder")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		return fmt.Errorf("building the builder (run from the repository root): %v\n%s", err, out)
	}
	var stop func()
	if e.registry, stop, err = testenv.StartRegistry(filepath.Join(tmp, "registry"), ""); err != nil {
		return err
	}
	defer stop()
	busybox := e.registry + "/library/busybox:latest"
	if err := testenv.MakeBusybox(filepath.Join(tmp, "busybox"), busybox); err != nil {
		return err
	}
	layout, err := testenv.DebianLayout()
	e.debianLayout = layout
	if err != nil {
		return err
	}
	debian := e.registry + "/library/debian:bookworm"
	if err := testenv.PushLayout(layout, debian); err != nil {
		return err
	}
	e.args = []string{"--build-arg", "BUSYBOX=" + busybox, "--build-arg", "DEBIAN=" + debian}
	if slices.ContainsFunc(workloads, func(w string) bool { return platformsOf[w] != "" }) {
		args, err := e.multiPlatformBases()
		if err != nil {
			return err
		}
		e.args = append(e.args, args...)
	}

	bk, why := startBuildKit(tmp, e.registry)
	if bk != nil {
		defer bk.stop()
	} else {
		fmt.Fprintf(os.Stderr, "bench: BuildKit left out: %s\n", why)
	}

	var table bytes.Buffer
	host, _ := os.Hostname()
	fmt.Fprintf(&table, "Machine: %s, %d cores, %s; %d runs per tool, medians.\n\n", host, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), runs)
	fmt.Fprintln(&table, "| workload | builder | buildah | BuildKit cold | builder warm | BuildKit warm | vs buildah | vs BuildKit cold | vs BuildKit warm | builder phases (cold; warm) | RSS builder / buildah / buildkitd |")
	fmt.Fprintln(&table, "|---|---|---|---|---|---|---|---|---|---|---|")
	perRun := ""
	for _, w := range workloads {
		dir := filepath.Join("bench", "workloads", w)
		if w == "scale" {
			row, err := e.scaleRow(dir)
			if err != nil {
				return fmt.Errorf("%s: %w", w, err)
			}
			table.WriteString(row)
			continue
		}
		if w == "gomod" {
			row, err := e.gomodRows(dir)
			if err != nil {
				return fmt.Errorf("%s: %w", w, err)
			}
			table.WriteString(row)
			continue
		}
		if w == "cache" {
			row, err := e.cacheRows(dir)
			if err != nil {
				return fmt.Errorf("%s: %w", w, err)
			}
			table.WriteString(row)
			continue
		}
		common := e.args
		if w == "goapp" {
			ctxDir, args, stop, err := e.goappContext(dir)
			if err != nil {
				return fmt.Errorf("%s: %w", w, err)
			}
			defer stop()
			dir = ctxDir
			e.args = append(slices.Clone(e.args), args...)
		}
		r, err := e.rounds(w, dir, runs, bk)
		e.args = common
		if err != nil {
			return fmt.Errorf("%s: %w", w, err)
		}
		if w == "steps" {
			var steps []time.Duration
			for _, m := range r.ours {
				steps = append(steps, m.runs...)
			}
			alone, err := e.commandAlone(layout, 30)
			if err != nil {
				return err
			}
			perRun = perRunLine(steps, alone)
		}
		table.WriteString(r.row(w))
	}
	if perRun != "" {
		fmt.Fprintf(&table, "\n%s", perRun)
	}
	fmt.Print(table.String())
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, table.Bytes(), 0o644)
}

// measure is one build: its wall time, peak RSS and (for the builder) the
// time per phase it reported.
type measure struct {
	wall   time.Duration
	rssMB  int64
	phases map[string]float64
	runs   []time.Duration // each RUN step that ran, whole
}

func (m measure) phaseString() string {
	var names []string
	for k := range m.phases {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, m.phases[k]))
	}
	return strings.Join(parts, ", ")
}

func median(ms []measure) measure {
	sorted := append([]measure(nil), ms...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].wall < sorted[j].wall })
	return sorted[len(sorted)/2]
}

// timed runs cmd and measures it.
func timed(cmd *exec.Cmd) (measure, []byte, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	// Each build writes hundreds of megabytes; without this the next one,
	// whichever tool it is, pays for flushing them.
	syscall.Sync()
	start := time.Now()
	err := cmd.Run()
	m := measure{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.rssMB = ru.Maxrss / 1024
	}
	if err != nil {
		return m, stderr.Bytes(), fmt.Errorf("%v\n%s", err, testenv.Tail(stderr.String(), 30))
	}
	return m, stderr.Bytes(), nil
}

// buildOurs builds and pushes with the builder, with a fresh work directory.
func (e *env) buildOurs(dir, ref string, extra []string) (measure, error) {
	work, err := os.MkdirTemp(e.tmp, "work-")
	if err != nil {
		return measure{}, err
	}
	defer os.RemoveAll(work)
	args := append([]string{"build", "--context", dir, "--destination", ref, "--work-dir", work,
		"--isolation", "chroot", "--verbosity", "debug", "--log-format", "json"}, e.args...)
	m, stderr, err := timed(exec.Command(e.builder, append(args, extra...)...))
	if err != nil {
		return m, err
	}
	m.phases = phases(stderr)
	m.runs = runSteps(stderr)
	return m, nil
}

// phases reads the builder's "build phases" diagnostic.
func phases(stderr []byte) map[string]float64 {
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec["msg"] != "build phases" {
			continue
		}
		out := map[string]float64{}
		for k, v := range rec {
			if f, ok := v.(float64); ok {
				out[k] = f
			}
		}
		return out
	}
	return nil
}

// buildTheirs builds and pushes with buildah, from empty storage as the
// builder starts from nothing.
func (e *env) buildTheirs(dir, ref string, i int, platforms string) (measure, error) {
	storage := filepath.Join(e.tmp, fmt.Sprintf("buildah-%d", i))
	defer os.RemoveAll(storage)
	b, err := testenv.NewBuildah(storage, e.registry)
	if err != nil {
		return measure{}, err
	}
	args := append([]string{"build", "--layers", "--no-cache", "--format", "oci", "--isolation", "chroot", "--tls-verify=false"}, e.args...)
	push := []string{"push", "--tls-verify=false", ref}
	if platforms != "" {
		// buildah's way to one index: a manifest list it pushes whole.
		args = append(args, "--platform", platforms, "--manifest", ref)
		push = []string{"manifest", "push", "--all", "--tls-verify=false", ref, "docker://" + ref}
	} else {
		args = append(args, "-t", ref)
	}
	m, _, err := timed(b.Command(append(args, dir)...))
	if err != nil {
		return m, err
	}
	pm, _, err := timed(b.Command(push...))
	m.wall += pm.wall
	if pm.rssMB > m.rssMB {
		m.rssMB = pm.rssMB
	}
	b.Run("rm", "--all")
	return m, err
}

// cacheRows builds the cache workload cold, fully cached and after a
// change to a file its last COPY reads, with a local step cache and a
// base layer directory (--cache-dir), as a CI runner with a persistent
// volume would.
func (e *env) cacheRows(dir string) (string, error) {
	ctx := filepath.Join(e.tmp, "cache-context")
	if out, err := exec.Command("cp", "-a", dir, ctx).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	cache := []string{"--cache", "--cache-repo", "oci:" + filepath.Join(e.tmp, "step-cache"), "--cache-dir", filepath.Join(e.tmp, "base-layers")}
	ref := e.registry + "/bench/cache:ours"
	cold, err := e.buildOurs(ctx, ref, cache)
	if err != nil {
		return "", err
	}
	warm, err := e.buildOurs(ctx, ref, cache)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(ctx, "src", "late.txt"), []byte("changed\n"), 0o644); err != nil {
		return "", err
	}
	late, err := e.buildOurs(ctx, ref, cache)
	if err != nil {
		return "", err
	}
	row := func(name string, m measure) string {
		return fmt.Sprintf("| %s | %.2fs | | | | | %.2f of cold | | | %s | %d MB |\n", name, m.wall.Seconds(), m.wall.Seconds()/cold.wall.Seconds(), m.phaseString(), m.rssMB)
	}
	return row("cache: cold", cold) + row("cache: all cached", warm) + row("cache: late file changed", late), nil
}
