package push

import (
	"encoding/json"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/internal/atomicfile"
)

// Metadata is what buildx writes with --metadata-file for an image
// build, the fields that apply here.
type Metadata struct {
	Digest       string        `json:"containerimage.digest"`
	ConfigDigest string        `json:"containerimage.config.digest,omitempty"` // an image's, not an index's
	Descriptor   v1.Descriptor `json:"containerimage.descriptor"`
	ImageName    string        `json:"image.name,omitempty"` // the destinations, comma-separated
}

// writeMetadata writes img's Metadata to p.
func writeMetadata(p string, img Artifact, refs []name.Reference) error {
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	var cfg string
	if im, ok := img.(v1.Image); ok {
		name, err := im.ConfigName()
		if err != nil {
			return err
		}
		cfg = name.String()
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	size, err := img.Size()
	if err != nil {
		return err
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Name()
	}
	data, err := json.MarshalIndent(Metadata{
		Digest: digest.String(), ConfigDigest: cfg,
		Descriptor: v1.Descriptor{MediaType: mt, Digest: digest, Size: size},
		ImageName:  strings.Join(names, ","),
	}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(p, append(data, '\n'))
}
