package push

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/buildcrew/builder/internal/atomicfile"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// WriteTarball writes a docker-archive tarball (docker load, podman load,
// skopeo copy docker-archive:) tagged with every tag among refs; with none
// the image is in it untagged. The file appears only once complete.
func WriteTarball(p string, img v1.Image, refs []name.Reference) error {
	m := map[name.Reference]v1.Image{}
	for _, r := range refs {
		if t, ok := r.(name.Tag); ok {
			m[t] = img
		}
	}
	if len(m) == 0 {
		d, err := img.Digest()
		if err != nil {
			return err
		}
		ref, err := name.NewDigest("image@" + d.String())
		if err != nil {
			return err
		}
		m[ref] = img
	}
	err := atomicfile.WriteFunc(p, 0o644, func(w io.Writer) error { return tarball.MultiRefWrite(m, w) })
	if err != nil {
		return fmt.Errorf("writing the tarball: %w", err)
	}
	return nil
}

// WriteLayout adds img to the OCI image layout at p, creating the layout if
// needed, with one index entry per tag ("org.opencontainers.image.ref.name").
func WriteLayout(p string, img v1.Image, refs []name.Reference) error {
	lp, err := layout.FromPath(p)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("opening the OCI layout %s: %w", p, err)
		}
		if lp, err = layout.Write(p, empty.Index); err != nil {
			return fmt.Errorf("creating the OCI layout %s: %w", p, err)
		}
	}
	var tags []string
	for _, r := range refs {
		if t, ok := r.(name.Tag); ok {
			tags = append(tags, t.TagStr())
		}
	}
	if len(tags) == 0 {
		tags = []string{""}
	}
	for _, t := range tags {
		var opts []layout.Option
		if t != "" {
			opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": t}))
		}
		if err := lp.AppendImage(img, opts...); err != nil {
			return fmt.Errorf("writing the OCI layout %s: %w", p, err)
		}
	}
	return nil
}
