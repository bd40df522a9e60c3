package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// HEALTHCHECK --start-interval lands in the config as
// config.Healthcheck.StartInterval (nanoseconds, as Docker writes it),
// a field go-containerregistry's v1.HealthConfig lacks: the config is
// written by v1.ConfigFile and the field added to its JSON.

// startIntervalOf reads the start interval from a raw image config.
func startIntervalOf(raw []byte) time.Duration {
	var c struct {
		Config struct {
			Healthcheck *struct{ StartInterval time.Duration }
		} `json:"config"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Config.Healthcheck == nil {
		return 0
	}
	return c.Config.Healthcheck.StartInterval
}

// withStartInterval returns img with d as its health check's start
// interval; img's config must have a health check.
func withStartInterval(img v1.Image, d time.Duration) (v1.Image, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(top["config"], &cfg); err != nil {
		return nil, err
	}
	var hc map[string]json.RawMessage
	if err := json.Unmarshal(cfg["Healthcheck"], &hc); err != nil {
		return nil, err
	}
	if hc["StartInterval"], err = json.Marshal(int64(d)); err != nil {
		return nil, err
	}
	if cfg["Healthcheck"], err = json.Marshal(hc); err != nil {
		return nil, err
	}
	if top["config"], err = json.Marshal(cfg); err != nil {
		return nil, err
	}
	patched, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&rawConfigImage{base: img, config: patched})
}

// rawConfigImage is base with another config: the manifest points at it.
type rawConfigImage struct {
	base   v1.Image
	config []byte
}

func (r *rawConfigImage) RawConfigFile() ([]byte, error)      { return r.config, nil }
func (r *rawConfigImage) MediaType() (types.MediaType, error) { return r.base.MediaType() }

func (r *rawConfigImage) RawManifest() ([]byte, error) {
	m, err := r.base.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	sum := sha256.Sum256(r.config)
	m.Config.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	m.Config.Size = int64(len(r.config))
	return json.Marshal(m)
}

func (r *rawConfigImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if cfg, err := r.base.ConfigName(); err == nil && cfg == h {
		return nil, fmt.Errorf("blob %s is no part of this image: its config was replaced", h)
	}
	return r.base.LayerByDigest(h)
}
