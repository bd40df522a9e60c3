// Package cache keeps the results of build steps, one image per step key:
// in a registry repository (tagged with the key) or in a local OCI image
// layout (named by the key). An entry's image holds the step's layer, or no
// layer when the step changed nothing, and a config whose creation time
// lets entries expire. Both stores are safe for builds running at once.
package cache

import (
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entry is the cached result of one step.
type Entry struct {
	// Layer is what the step added; nil when it changed nothing.
	Layer v1.Layer
	// CreatedBy is the step's history entry.
	CreatedBy string
	// Created is when the entry was stored.
	Created time.Time
	// Inputs are digests of what the step's key was made of, by name
	// ("instruction", "environment", ...), kept to explain later misses.
	Inputs map[string]string
	diffID v1.Hash // of Layer, as the stored config says
}

// inputLabel prefixes the config labels that hold an entry's Inputs.
const inputLabel = "builder.cache.input."

// DefaultTTL is how long entries live unless told otherwise: two weeks,
// as kaniko's --cache-ttl.
const DefaultTTL = 14 * 24 * time.Hour

// entryImage turns an entry into the image stored for it.
func entryImage(e Entry) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg := &v1.ConfigFile{
		Created: v1.Time{Time: e.Created.UTC()},
		History: []v1.History{{CreatedBy: e.CreatedBy, EmptyLayer: e.Layer == nil}},
		RootFS:  v1.RootFS{Type: "layers"},
		OS:      "linux", Architecture: "cache",
	}
	for k, v := range e.Inputs {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		cfg.Config.Labels[inputLabel+k] = v
	}
	if e.Layer != nil {
		mt, err := e.Layer.MediaType()
		if err != nil {
			return nil, err
		}
		if mt == types.DockerLayer {
			mt = types.OCILayer
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: e.Layer, MediaType: mt}); err != nil {
			return nil, err
		}
		diffID, err := e.Layer.DiffID()
		if err != nil {
			return nil, err
		}
		cfg.RootFS.DiffIDs = []v1.Hash{diffID}
	}
	return mutate.ConfigFile(img, cfg)
}

// imageEntry reads an entry back, or nil when it has expired.
func imageEntry(img v1.Image, ttl time.Duration, now time.Time) (*Entry, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if ttl > 0 && now.Sub(cfg.Created.Time) > ttl {
		return nil, nil
	}
	if len(cfg.History) != 1 {
		return nil, fmt.Errorf("not a cache entry: %d history entries", len(cfg.History))
	}
	e := &Entry{CreatedBy: cfg.History[0].CreatedBy, Created: cfg.Created.Time}
	for k, v := range cfg.Config.Labels {
		if name, ok := strings.CutPrefix(k, inputLabel); ok {
			if e.Inputs == nil {
				e.Inputs = map[string]string{}
			}
			e.Inputs[name] = v
		}
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	switch len(ls) {
	case 0:
	case 1:
		if len(cfg.RootFS.DiffIDs) != 1 {
			return nil, fmt.Errorf("not a cache entry: %d diffIDs for one layer", len(cfg.RootFS.DiffIDs))
		}
		e.Layer, e.diffID = ls[0], cfg.RootFS.DiffIDs[0]
	default:
		return nil, fmt.Errorf("not a cache entry: %d layers", len(ls))
	}
	return e, nil
}
