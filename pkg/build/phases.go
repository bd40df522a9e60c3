package build

import (
	"sort"
	"time"
)

// Phases is where a build's time went, summed over its steps: "pull"
// (image metadata), "extract" (unpacking layers), "run" (RUN commands),
// "snapshot" (finding what RUN changed), "layer" (writing and compressing
// layers) and "cache" (computing keys and reading the cache).
type Phases map[string]time.Duration

// addPhase counts d towards phase; stages building at once call it
// together.
func (b *builder) addPhase(phase string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.phases[phase] += d
}

// since counts the time since start towards phase.
func (b *builder) since(phase string, start time.Time) {
	b.addPhase(phase, time.Since(start))
}

// Names lists the phases that took time, in a fixed order.
func (p Phases) Names() []string {
	order := map[string]int{"pull": 0, "extract": 1, "run": 2, "snapshot": 3, "layer": 4, "cache": 5}
	var out []string
	for k := range p {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return order[out[i]] < order[out[j]] })
	return out
}
