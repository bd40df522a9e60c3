package push

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// writeOCIArchive writes a (an image or an index) as an OCI image layout
// in a tar: oci-layout, index.json naming a once per tag among refs, and
// every blob once.
func writeOCIArchive(w io.Writer, idx Artifact, refs []name.Reference) error {
	tw := tar.NewWriter(w)
	a := &ociArchive{tw: tw, written: map[v1.Hash]bool{}}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return err
	}
	size, err := idx.Size()
	if err != nil {
		return err
	}
	top := v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json"}
	for _, t := range tagsOf(refs) {
		d := v1.Descriptor{MediaType: mt, Digest: digest, Size: size}
		if t != nil {
			d.Annotations = map[string]string{
				"org.opencontainers.image.ref.name": t.TagStr(),
				"io.containerd.image.name":          t.Name(),
			}
		}
		top.Manifests = append(top.Manifests, d)
	}
	indexJSON, err := json.Marshal(top)
	if err != nil {
		return err
	}
	if err := a.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := a.file("index.json", indexJSON); err != nil {
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	switch x := idx.(type) {
	case v1.ImageIndex:
		err = a.index(x)
	case v1.Image:
		err = a.image(x)
	default:
		err = fmt.Errorf("a %T is neither an image nor an index", idx)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

type ociArchive struct {
	tw      *tar.Writer
	written map[v1.Hash]bool
}

func (a *ociArchive) file(name string, data []byte) error {
	return a.stream(name, int64(len(data)), bytes.NewReader(data))
}

func (a *ociArchive) stream(name string, size int64, r io.Reader) error {
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, Format: tar.FormatPAX}); err != nil {
		return err
	}
	n, err := io.Copy(a.tw, r)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("writing %s: %d bytes, not the %d its descriptor says", name, n, size)
	}
	return nil
}

// blob writes data under its digest, once.
func (a *ociArchive) blob(digest v1.Hash, data []byte) error {
	if a.written[digest] {
		return nil
	}
	a.written[digest] = true
	return a.file(blobPath(digest), data)
}

func blobPath(d v1.Hash) string { return path.Join("blobs", d.Algorithm, d.Hex) }

func (a *ociArchive) index(idx v1.ImageIndex) error {
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	if err := a.blob(digest, raw); err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			if err := a.index(child); err != nil {
				return err
			}
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		if err := a.image(img); err != nil {
			return err
		}
	}
	return nil
}

func (a *ociArchive) image(img v1.Image) error {
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if err := a.blob(digest, raw); err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	if err := a.blob(cfgName, cfg); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		if a.written[d] {
			continue
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = a.stream(blobPath(d), size, rc)
		rc.Close()
		if err != nil {
			return err
		}
		a.written[d] = true
	}
	return nil
}
