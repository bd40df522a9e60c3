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

// WriteTarball writes img to the file p, which appears only once
// complete. An image becomes a docker-archive tarball (docker load,
// podman load, skopeo copy docker-archive:) tagged with every tag among
// refs, untagged with none. An index, which a docker-archive cannot
// hold, becomes an OCI archive: an OCI image layout in a tar (skopeo copy
// oci-archive:, ctr import, docker load with the containerd image store).
func WriteTarball(p string, a Artifact, refs []name.Reference) error {
	if err := atomicfile.WriteFunc(p, 0o644, func(w io.Writer) error { return writeArchive(w, a, refs) }); err != nil {
		return fmt.Errorf("writing the tarball: %w", err)
	}
	return nil
}

// writeArchive writes what WriteTarball writes to w.
func writeArchive(w io.Writer, a Artifact, refs []name.Reference) error {
	img, ok := a.(v1.Image)
	if !ok {
		return writeOCIArchive(w, a, refs)
	}
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
	return tarball.MultiRefWrite(m, w)
}

// WriteLayout adds img (an image or an index) to the OCI image layout at
// p, creating the layout if needed, with one index entry per tag
// ("org.opencontainers.image.ref.name").
func WriteLayout(p string, img Artifact, refs []name.Reference) error {
	lp, err := layout.FromPath(p)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("opening the OCI layout %s: %w", p, err)
		}
		if lp, err = layout.Write(p, empty.Index); err != nil {
			return fmt.Errorf("creating the OCI layout %s: %w", p, err)
		}
	}
	for _, t := range tagsOf(refs) {
		var opts []layout.Option
		if t != nil {
			opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": t.TagStr()}))
		}
		switch a := img.(type) {
		case v1.ImageIndex:
			err = lp.AppendIndex(a, opts...)
		case v1.Image:
			err = lp.AppendImage(a, opts...)
		default:
			err = fmt.Errorf("a %T is neither an image nor an index", img)
		}
		if err != nil {
			return fmt.Errorf("writing the OCI layout %s: %w", p, err)
		}
	}
	return nil
}

// tagsOf lists the tags among refs; a single nil when there is none.
func tagsOf(refs []name.Reference) []*name.Tag {
	var tags []*name.Tag
	for _, r := range refs {
		if t, ok := r.(name.Tag); ok {
			tags = append(tags, &t)
		}
	}
	if len(tags) == 0 {
		tags = []*name.Tag{nil}
	}
	return tags
}
