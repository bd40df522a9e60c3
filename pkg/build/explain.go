package build

import (
	"context"
	"log/slog"
	"slices"
	"strings"
)

// followsKey names the cache entry that records the inputs of the last
// step stored after a given point of a key chain (the steps before it),
// for explaining a later miss there.
func followsKey(in keyInputs) string {
	k := newKeyHash("follows")
	k.field(in["the steps before it"])
	return k.sum()
}

// explainMiss says, at debug level, why a step missed the cache: which of
// its inputs differ from those of the step the cache last stored after
// the same steps, or that it knows none there (the step before missed too,
// or nothing was stored yet). It costs one more cache read, only when
// debug logging is on.
func (b *builder) explainMiss(ctx context.Context, st *stage, v *vertex, in keyInputs) {
	log := b.opts.Logger
	if !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	step := st.def.DisplayName()
	if v != nil {
		step = v.name
	}
	prev, err := b.opts.Cache.Get(ctx, followsKey(in))
	if err != nil || prev == nil || prev.Inputs == nil {
		log.Debug("cache miss", "step", step, "why", "the cache holds no step after the same steps before it: one of those missed too, or none was stored yet")
		return
	}
	var changed []string
	for name, d := range in {
		if prev.Inputs[name] != d {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	if len(changed) == 0 {
		log.Debug("cache miss", "step", step, "why", "its entry expired or was removed", "cached", prev.CreatedBy)
		return
	}
	log.Debug("cache miss", "step", step, "changed", strings.Join(changed, ", "), "cached", prev.CreatedBy)
}
