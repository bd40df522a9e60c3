package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"
)

// stepCommand is what every RUN of the steps workload runs (with its own
// number): the command whose own cost is taken off a step's.
const stepCommand = "echo 1 > /step1"

// runSteps reads how long each RUN that ran took, whole (mount, run,
// changes, layer, commit), from the builder's "step finished" records,
// leaving out the build's first: it also unpacks the base.
func runSteps(stderr []byte) []time.Duration {
	var out []time.Duration
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg         string `json:"msg"`
			Instruction string `json:"instruction"`
			Cached      bool   `json:"cached"`
			Took        int64  `json:"took"` // slog writes durations in nanoseconds
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "step finished" && rec.Instruction == "RUN" && !rec.Cached {
			out = append(out, time.Duration(rec.Took))
		}
	}
	if len(out) > 0 {
		out = out[1:]
	}
	return out
}

// commandAlone times stepCommand run n times with chroot(8) in the Debian
// base unpacked by umoci: what a RUN costs without any builder.
func (e *env) commandAlone(layout string, n int) (time.Duration, error) {
	root := filepath.Join(e.tmp, "debian-root")
	if out, err := exec.Command("umoci", "raw", "unpack", "--image", layout+":latest", root).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("unpacking the Debian base: %v: %s", err, out)
	}
	defer os.RemoveAll(root)
	var times []time.Duration
	for range n {
		start := time.Now()
		if out, err := exec.Command("chroot", root, "/bin/sh", "-c", stepCommand).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("chroot: %v: %s", err, out)
		}
		times = append(times, time.Since(start))
	}
	return medianDuration(times), nil
}

func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// perRunLine reports the per-RUN overhead: a whole RUN step's median time
// in the steps workload less the command's own.
func perRunLine(steps []time.Duration, alone time.Duration) string {
	step := medianDuration(steps)
	return fmt.Sprintf("Per RUN on a warm Debian root (steps workload, median of %d steps, each build's first left out): %.1f ms a step; "+
		"the command alone (chroot + sh -c %q on the same base) %.1f ms; overhead %.1f ms.\n",
		len(steps), ms(step), stepCommand, ms(alone), ms(step-alone))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
