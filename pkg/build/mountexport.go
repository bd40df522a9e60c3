package build

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/layers"
)

// Cache mounts that outlive the machine (Options.ExportCacheMounts): after
// a build, each cache mount it used is stored in the step cache as one
// layer; a build that finds no directory for a cache id restores it from
// there, when the first step that uses it runs, so steps that do not use
// it never wait.

// cacheMountKey names cache mount id's contents in the step cache.
func cacheMountKey(id string) string {
	k := newKeyHash("cache mount")
	k.field(id)
	return k.sum()
}

// noteCacheMount records a cache mount the build used, for the export.
func (b *builder) noteCacheMount(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mountsUsed == nil {
		b.mountsUsed = map[string]bool{}
	}
	b.mountsUsed[id] = true
}

// restoreCacheMount fills dir (which it makes) with id's exported
// contents, and reports whether the cache had them. A failure is a
// warning: the mount starts empty.
func (b *builder) restoreCacheMount(ctx context.Context, id, dir string) bool {
	if !b.opts.ExportCacheMounts || b.opts.Cache == nil {
		return false
	}
	e, err := b.opts.Cache.Get(ctx, cacheMountKey(id))
	if err != nil {
		b.warn("reading cache mount %s from the cache: %v", id, err)
		return false
	}
	if e == nil || e.Layer == nil {
		return false
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.warn("restoring cache mount %s: %v", id, err)
		return false
	}
	if err := b.maker.Unpack(ctx, dir, []v1.Layer{e.Layer}, layers.ExtractOptions{}); err != nil {
		os.RemoveAll(dir)
		b.warn("restoring cache mount %s: %v", id, err)
		return false
	}
	b.opts.Logger.Debug("restored a cache mount from the cache", "id", id)
	return true
}

// exportCacheMounts stores each cache mount the build used in the step
// cache; a failure is a warning.
func (b *builder) exportCacheMounts(ctx context.Context) {
	b.mu.Lock()
	ids := make([]string, 0, len(b.mountsUsed))
	for id := range b.mountsUsed {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	store := cache.Mounts{Dir: b.opts.CacheMountDir}
	missing := func(string) error { return errors.New("the cache mount is gone") }
	for _, id := range ids {
		dir, release, err := store.Acquire(ctx, id, cache.Shared, missing)
		if err != nil {
			b.warn("exporting cache mount %s: %v", id, err)
			continue
		}
		layer, err := b.dirLayer(ctx, dir)
		release()
		if err != nil {
			b.warn("exporting cache mount %s: %v", id, err)
			continue
		}
		if layer != nil {
			b.cacheWrites.put(ctx, b.opts.Cache, cacheMountKey(id), cache.Entry{CreatedBy: "cache mount " + id, Created: b.started, Layer: layer})
		}
	}
}

// dirLayer makes a layer of everything under dir; nil when it is empty.
func (b *builder) dirLayer(ctx context.Context, dir string) (v1.Layer, error) {
	var entries []layers.Entry
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		entries = append(entries, layers.Entry{Path: filepath.ToSlash(rel)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return b.layer(ctx, dir, entries, true)
}
