package build

import (
	"fmt"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// image assembles a stage's image: its layers, re-typed for the chosen
// format, and its config. The final image also gets the --label values.
func (b *builder) image(st *stage, final bool) (v1.Image, error) {
	cfg := st.config.DeepCopy()
	cfg.Created = v1.Time{Time: b.now}
	if b.opts.Cache != nil && !b.fixedTime() {
		cfg.Created = st.now
	}
	if final && len(b.opts.Labels) > 0 {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		maps.Copy(cfg.Config.Labels, b.opts.Labels)
	}
	manifestType, configType := types.OCIManifestSchema1, types.OCIConfigJSON
	if b.opts.Format == Docker {
		manifestType, configType = types.DockerManifestSchema2, types.DockerConfigJSON
	}
	img := mutate.MediaType(empty.Image, manifestType)
	img = mutate.ConfigMediaType(img, configType)
	adds := make([]mutate.Addendum, 0, len(st.layers))
	for _, l := range st.layers {
		mt, err := layerMediaType(l, b.opts.Format)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: mt})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("assembling the image: %w", err)
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, fmt.Errorf("assembling the image: %w", err)
	}
	if st.startInterval != 0 && cfg.Config.Healthcheck != nil {
		if img, err = withStartInterval(img, st.startInterval); err != nil {
			return nil, fmt.Errorf("assembling the image: %w", err)
		}
	}
	return img, nil
}

// layerMediaType gives a layer the type its compression has in the
// chosen format, so a Docker base can be part of an OCI image and back.
func layerMediaType(l v1.Layer, f Format) (types.MediaType, error) {
	mt, err := l.MediaType()
	if err != nil {
		return "", err
	}
	switch mt {
	case types.DockerLayer, types.OCILayer:
		if f == Docker {
			return types.DockerLayer, nil
		}
		return types.OCILayer, nil
	case types.DockerUncompressedLayer, types.OCIUncompressedLayer:
		if f == Docker {
			return types.DockerUncompressedLayer, nil
		}
		return types.OCIUncompressedLayer, nil
	case types.OCILayerZStd:
		if f == Docker {
			return "", fmt.Errorf("a zstd layer cannot be part of a Docker format image: build in the OCI format")
		}
	}
	return mt, nil
}

// fixedTime tells a build whose times are given (reproducible, or
// SOURCE_DATE_EPOCH), not taken from the clock or the cache.
func (b *builder) fixedTime() bool {
	return b.opts.Reproducible || b.opts.SourceDateEpoch != nil
}
