package build

import (
	"context"
	"errors"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/dockerfile"
)

// Cache keeps step results by key. pkg/cache stores them in a registry
// repository or a local OCI layout.
type Cache interface {
	Get(ctx context.Context, key string) (*cache.Entry, error)
	Put(ctx context.Context, key string, e cache.Entry) error
}

var (
	_ Cache = (*cache.Registry)(nil)
	_ Cache = (*cache.Layout)(nil)
)

// cacheWriter stores entries in the background: the build never waits for
// the cache, and a failure to write it is a warning.
type cacheWriter struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	warnings []string
}

func (w *cacheWriter) put(ctx context.Context, c Cache, key string, e cache.Entry) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := c.Put(context.WithoutCancel(ctx), key, e); err != nil {
			w.mu.Lock()
			w.warnings = append(w.warnings, err.Error())
			w.mu.Unlock()
		}
	}()
}

// wait lets the writes finish and returns their failures.
func (w *cacheWriter) wait() []string {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.warnings
}

// makesLayer tells the steps whose result is a layer, which the cache keeps.
func makesLayer(ins dockerfile.Instruction) bool {
	switch ins.(type) {
	case *dockerfile.Run, *dockerfile.Copy, *dockerfile.Workdir:
		return true
	}
	return false
}

// step runs one instruction, or takes its result from the cache or from
// another platform's build, and moves the stage's key chain on. It tells
// whether the result was taken.
func (b *builder) step(ctx context.Context, st *stage, ins dockerfile.Instruction, v *vertex) (taken bool, err error) {
	if b.opts.Cache == nil && b.share == nil {
		return false, b.execute(ctx, st, ins, v)
	}
	start := time.Now()
	key, inputs, cacheable, err := b.stepKey(ctx, st, ins)
	if err != nil {
		return false, err
	}
	if !cacheable {
		key = uncacheable()
	}
	// The chain goes on from the step's key; a linked layer's key says
	// nothing of what is below it, so the chain takes both.
	chain := key
	if linked(ins) {
		k := newKeyHash("link")
		k.field(st.key)
		k.field(key)
		chain = k.sum()
	}
	if cacheable && makesLayer(ins) && b.share != nil {
		e, release, cerr := b.share.claim(ctx, key)
		if cerr != nil {
			return false, cerr
		}
		if e != nil {
			if err := b.apply(ctx, st, ins, e); err != nil {
				return false, err
			}
			st.advance(chain, ins)
			return true, nil
		}
		// The other platforms get what this one makes, or make it
		// themselves when it fails (err is the step's result); and its
		// root, where they need the same stage's files (see
		// privateRoots.read).
		defer func() {
			if err != nil {
				release(nil)
				return
			}
			if st.fs != nil && st.fs.Outline == nil {
				b.share.offerRoot(sharedRootKey(st.index, chain), st.fs.Dir)
			}
			release(b.lastEntry(st))
		}()
	}
	if cacheable && makesLayer(ins) && b.opts.Cache != nil && !b.opts.CacheWriteOnly {
		hit, err := b.fromCache(ctx, st, ins, key)
		b.since("cache", start)
		if err != nil || hit {
			if hit {
				st.advance(chain, ins)
			}
			return hit, err
		}
		b.explainMiss(ctx, st, v, inputs)
	}
	if makesLayer(ins) && !b.fixedTime() {
		// This result and what follows it are as new as the build.
		st.now = v1.Time{Time: b.started}
	}
	if err := b.execute(ctx, st, ins, v); err != nil {
		return false, err
	}
	if cacheable && makesLayer(ins) && b.opts.Cache != nil {
		if p := st.pending; p != nil {
			// A RUN whose layer is still being written: stored once
			// it is the stage's.
			p.stored = func() { b.toCache(ctx, st, key, inputs) }
		} else {
			b.toCache(ctx, st, key, inputs)
		}
	}
	st.advance(chain, ins)
	return false, nil
}

// advance moves the stage's key chain on past ins.
func (st *stage) advance(chain string, ins dockerfile.Instruction) {
	st.key = chain
	if makesLayer(ins) {
		st.filesKey = chain
	}
}

// fromCache applies a cached result instead of running the step. A stage
// whose files are not unpacked stays so: the layer is only recorded.
func (b *builder) fromCache(ctx context.Context, st *stage, ins dockerfile.Instruction, key string) (bool, error) {
	if b.cacheUnreadable.Load() {
		return false, nil
	}
	e, err := b.opts.Cache.Get(ctx, key)
	if errors.Is(err, cache.ErrCorrupt) {
		// Dropped from the store: the step runs and stores it anew.
		b.warn("the cache held a damaged entry, which is dropped; the step runs: %v", err)
		return false, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		b.warn("reading the cache failed, every later step runs: %v", err)
		b.cacheUnreadable.Store(true)
		return false, nil
	}
	if e == nil {
		return false, nil
	}
	return true, b.apply(ctx, st, ins, e)
}

// apply makes a step's result, from the cache or another platform's
// build, the stage's next.
func (b *builder) apply(ctx context.Context, st *stage, ins dockerfile.Instruction, e *cache.Entry) error {
	// A RUN taken from the cache changes the root and the history, which
	// the last RUN's layer, still being written, must come before.
	if err := b.settle(st); err != nil {
		return err
	}
	if w, ok := ins.(*dockerfile.Workdir); ok {
		st.setWorkdir(w)
	}
	if !b.fixedTime() {
		st.now = v1.Time{Time: e.Created.UTC()}
	}
	if st.fs != nil && e.Layer != nil {
		if err := b.maker.UnpackInto(ctx, st.fs, []v1.Layer{e.Layer}); err != nil {
			return err
		}
	}
	return st.commit(e.CreatedBy, e.Layer)
}

// lastEntry is the stage's last step as a cache entry: its history entry
// and its layer, if it made one; nil if the stage has none.
func (b *builder) lastEntry(st *stage) *cache.Entry {
	if len(st.config.History) == 0 {
		return nil
	}
	h := st.config.History[len(st.config.History)-1]
	e := &cache.Entry{CreatedBy: h.CreatedBy, Created: b.started}
	if !h.EmptyLayer {
		e.Layer = st.layers[len(st.layers)-1]
	}
	return e
}

// toCache stores the result of the step that just ran: its history entry
// and its layer, if it made one.
func (b *builder) toCache(ctx context.Context, st *stage, key string, inputs keyInputs) {
	e := b.lastEntry(st)
	if b.opts.CacheReadOnly || e == nil {
		return
	}
	e.Inputs = inputs
	b.cacheWrites.put(ctx, b.opts.Cache, key, *e)
	// What follows the step before: the next build that misses here can
	// say which input changed.
	b.cacheWrites.put(ctx, b.opts.Cache, followsKey(inputs), cache.Entry{CreatedBy: e.CreatedBy, Created: b.started, Inputs: inputs})
}
