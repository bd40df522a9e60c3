package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// scaleLimit is the memory the scale workload's build gets.
const scaleLimit = 256 << 20

// memCgroup is a memory cgroup the scale build runs in: cgroup v2 where
// the machine has the unified hierarchy alone, else v1's memory
// controller.
type memCgroup struct {
	dir            string
	procs, peak    string
	limit, current string
}

func newMemCgroup(name string, limit int64) (*memCgroup, error) {
	var cg memCgroup
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg = memCgroup{dir: filepath.Join("/sys/fs/cgroup", name), limit: "memory.max", peak: "memory.peak"}
		// The memory controller must be on for the root's children.
		os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+memory"), 0o644)
	} else if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		cg = memCgroup{dir: filepath.Join("/sys/fs/cgroup/memory", name), limit: "memory.limit_in_bytes", peak: "memory.max_usage_in_bytes"}
	} else {
		return nil, fmt.Errorf("no memory cgroup controller here")
	}
	cg.procs = "cgroup.procs"
	os.Remove(cg.dir)
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cg.dir, cg.limit), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		os.Remove(cg.dir)
		return nil, err
	}
	return &cg, nil
}

// command runs name with args inside the cgroup: a shell moves itself
// in, then becomes the command, so nothing it allocates is outside.
func (cg *memCgroup) command(name string, args ...string) *exec.Cmd {
	script := fmt.Sprintf(`echo $$ > %s && exec "$@"`, filepath.Join(cg.dir, cg.procs))
	return exec.Command("sh", append([]string{"-c", script, "sh", name}, args...)...)
}

// peakMB is the most memory the cgroup held (page cache included), in MB.
func (cg *memCgroup) peakMB() int64 {
	data, err := os.ReadFile(filepath.Join(cg.dir, cg.peak))
	if err != nil {
		return -1
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n >> 20
}

func (cg *memCgroup) remove() { os.Remove(cg.dir) }

// scaleRow builds and pushes the scale workload with the builder alone,
// its memory capped, and reports the time, the cgroup's peak (page cache
// included) and the builder's own peak RSS.
func (e *env) scaleRow(dir string) (string, error) {
	cg, err := newMemCgroup("builder-scale", scaleLimit)
	if err != nil {
		return "", err
	}
	defer cg.remove()
	work, err := os.MkdirTemp(e.tmp, "work-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	args := append([]string{"build", "--context", dir, "--destination", e.registry + "/bench/scale:ours", "--work-dir", work,
		"--isolation", "chroot", "--verbosity", "debug", "--log-format", "json"}, e.args...)
	m, stderr, err := timed(cg.command(e.builder, args...))
	if err != nil {
		return "", fmt.Errorf("the scale build (memory capped at %d MiB): %w", scaleLimit>>20, err)
	}
	m.phases = phases(stderr)
	return fmt.Sprintf("| scale (700k files, 4 GiB; memory.max %d MiB) | %.2fs | | | | | | | | %s | %d MB (cgroup peak %d MB) |\n",
		scaleLimit>>20, m.wall.Seconds(), m.phaseString(), m.rssMB, cg.peakMB()), nil
}
