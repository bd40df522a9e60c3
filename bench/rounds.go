package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// results are one workload's builds, per tool and kind.
type results struct {
	ours, buildah, bkCold, oursWarm, bkWarm []measure
	floor                                   []time.Duration // GNU tar of the base, per round
}

// rounds builds workload w runs times with every tool, alternating within
// each round: the builder cold, buildah, the builder warm (base layers
// kept in --cache-dir, filled by one untimed build), BuildKit cold,
// BuildKit warm, each round starting one tool further. bk may be nil.
func (e *env) rounds(w, dir string, runs int, bk *buildKit) (results, error) {
	var r results
	n := runs
	if warmFirst[w] {
		n++
	}
	var extra, bkArgs []string
	if p := platformsOf[w]; p != "" {
		extra = []string{"--platform", p}
	}
	bkArgs = append(append(bkArgs, e.args...), extra...)
	if warmFirst[w] {
		// Cache mounts that outlive the run, as buildah's and the warm
		// daemon's do.
		extra = append(extra, "--cache-mount-dir", filepath.Join(e.tmp, "cache-mounts-"+w))
	}
	warm := append(append([]string(nil), extra...), "--cache-dir", filepath.Join(e.tmp, "base-layers-"+w))
	ref := func(tool string) string { return fmt.Sprintf("%s/bench/%s:%s", e.registry, w, tool) }
	if _, err := e.buildOurs(dir, ref("ours-warm"), warm); err != nil {
		return r, fmt.Errorf("builder, warming up: %w", err)
	}
	for i := range n {
		// Each round starts with a different tool: a build pays for what
		// the one before left (dirty pages, a daemon's work), and the
		// slot after the heaviest one should not always be the same tool's.
		var builds []func() error
		builds = append(builds,
			func() error {
				// The floor right before the cold build: this VM's disk
				// swings 2x within a minute.
				if usesDebian(dir) && e.debianLayout != "" {
					f, err := e.unpackFloor(e.debianLayout)
					if err != nil {
						return fmt.Errorf("the unpack floor: %w", err)
					}
					r.floor = append(r.floor, f)
				}
				m, err := e.buildOurs(dir, ref("ours"), extra)
				if err != nil {
					return fmt.Errorf("builder: %w", err)
				}
				r.ours = append(r.ours, m)
				return nil
			},
			func() error {
				m, err := e.buildTheirs(dir, ref("buildah"), i, platformsOf[w])
				if err != nil {
					return fmt.Errorf("buildah: %w", err)
				}
				r.buildah = append(r.buildah, m)
				return nil
			},
			func() error {
				m, err := e.buildOurs(dir, ref("ours-warm"), warm)
				if err != nil {
					return fmt.Errorf("builder warm: %w", err)
				}
				r.oursWarm = append(r.oursWarm, m)
				return nil
			})
		if bk != nil && !warmFirst[w] {
			// A cold daemon has no cache mounts: where they matter, only
			// the warm daemon is comparable.
			builds = append(builds, func() error {
				m, err := bk.cold(dir, ref("buildkit"), bkArgs, i)
				if err != nil {
					return fmt.Errorf("BuildKit cold: %w", err)
				}
				r.bkCold = append(r.bkCold, m)
				return nil
			})
		}
		if bk != nil {
			builds = append(builds, func() error {
				m, err := bk.warmBuild(w, dir, ref("buildkit"), bkArgs)
				if err != nil {
					return fmt.Errorf("BuildKit warm: %w", err)
				}
				r.bkWarm = append(r.bkWarm, m)
				return nil
			})
		}
		for j := range builds {
			if err := builds[(i+j)%len(builds)](); err != nil {
				return r, err
			}
		}
		line := fmt.Sprintf("%s run %d: builder %.2fs buildah %.2fs builder warm %.2fs", w, i+1,
			r.ours[i].wall.Seconds(), r.buildah[i].wall.Seconds(), r.oursWarm[i].wall.Seconds())
		if len(r.bkCold) > i {
			line += fmt.Sprintf(" BuildKit cold %.2fs", r.bkCold[i].wall.Seconds())
		}
		if len(r.bkWarm) > i {
			line += fmt.Sprintf(" BuildKit warm %.2fs", r.bkWarm[i].wall.Seconds())
		}
		fmt.Fprintln(os.Stderr, line)
	}
	if warmFirst[w] {
		// The first round filled the cache mounts.
		r.ours, r.buildah, r.oursWarm = r.ours[1:], r.buildah[1:], r.oursWarm[1:]
		if len(r.floor) > 0 {
			r.floor = r.floor[1:]
		}
		if len(r.bkWarm) > 0 {
			r.bkWarm = r.bkWarm[1:]
		}
	}
	return r, nil
}

// row is the workload's line of the results table.
func (r results) row(w string) string {
	o, ow := median(r.ours), median(r.oursWarm)
	cell := func(ms []measure) string {
		if len(ms) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2fs", median(ms).wall.Seconds())
	}
	ratio := func(ours, theirs []measure) string {
		if len(theirs) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", pairedRatio(ours, theirs))
	}
	rss := []string{fmt.Sprint(max(o.rssMB, ow.rssMB)), fmt.Sprint(median(r.buildah).rssMB), "n/a"}
	if len(r.bkWarm)+len(r.bkCold) > 0 {
		var peak int64
		for _, m := range append(append([]measure(nil), r.bkCold...), r.bkWarm...) {
			peak = max(peak, m.rssMB)
		}
		rss[2] = fmt.Sprint(peak)
	}
	floor := ""
	if len(r.floor) == len(r.ours) && len(r.floor) > 0 {
		// Each cold build against the floor timed right before it, the
		// median of those ratios.
		var ratios []float64
		for i, m := range r.ours {
			ratios = append(ratios, m.wall.Seconds()/(r.floor[i].Seconds()+m.phases["run"]))
		}
		f := slices.Sorted(slices.Values(r.floor))[len(r.floor)/2]
		floor = fmt.Sprintf("; cold is %.2fx the unpack floor timed just before it + RUN (median of the rounds; floor %.2fs, RUN %.2fs)",
			slices.Sorted(slices.Values(ratios))[len(ratios)/2], f.Seconds(), o.phases["run"])
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s; %s%s | %s MB |\n", w,
		cell(r.ours), cell(r.buildah), cell(r.bkCold), cell(r.oursWarm), cell(r.bkWarm),
		ratio(r.ours, r.buildah), ratio(r.ours, r.bkCold), ratio(r.oursWarm, r.bkWarm),
		o.phaseString(), ow.phaseString(), floor, strings.Join(rss, " / "))
}

// pairedRatio is the median of the rounds' ratios ours[i]/theirs[i]: the
// two builds of a round ran within seconds of each other, while this VM's
// speed swings 2-3x over minutes, so a ratio of medians taken from
// different rounds measures the machine as much as the tools. Without
// one build of each per round, it is the ratio of the medians.
func pairedRatio(ours, theirs []measure) float64 {
	if len(ours) != len(theirs) {
		return median(ours).wall.Seconds() / median(theirs).wall.Seconds()
	}
	ratios := make([]float64, len(ours))
	for i := range ours {
		ratios[i] = ours[i].wall.Seconds() / theirs[i].wall.Seconds()
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2]
}
