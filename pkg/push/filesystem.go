package push

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/buildcrew/builder/pkg/layers"
)

// platformImages lists an artifact's images: an image alone, with no
// directory of its own; an index's, each in a directory named for its
// platform ("linux_arm64", "linux_arm_v7"), as buildx lays them out.
func platformImages(a Artifact) ([]v1.Image, []string, error) {
	switch x := a.(type) {
	case v1.Image:
		return []v1.Image{x}, []string{""}, nil
	case v1.ImageIndex:
		m, err := x.IndexManifest()
		if err != nil {
			return nil, nil, err
		}
		var imgs []v1.Image
		var dirs []string
		for _, d := range m.Manifests {
			if d.Platform == nil {
				return nil, nil, fmt.Errorf("the index lists %s without a platform", d.Digest)
			}
			img, err := x.Image(d.Digest)
			if err != nil {
				return nil, nil, err
			}
			imgs = append(imgs, img)
			dirs = append(dirs, strings.ReplaceAll(d.Platform.String(), "/", "_"))
		}
		return imgs, dirs, nil
	}
	return nil, nil, fmt.Errorf("a %T is neither an image nor an index", a)
}

// WriteFilesystem writes the files of a's image into dir, its layers
// applied in order, each entry resolved inside dir (buildx's
// type=local). Owners are kept where the process may set them. dir may
// exist; what the image holds replaces what is there.
func WriteFilesystem(ctx context.Context, dir string, a Artifact) error {
	imgs, subdirs, err := platformImages(a)
	if err != nil {
		return err
	}
	for i, img := range imgs {
		root := filepath.Join(dir, subdirs[i])
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		ls, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range ls {
			if err := layers.ExtractLayer(ctx, root, l, layers.ExtractOptions{}); err != nil {
				return fmt.Errorf("writing the image's files to %s: %w", root, err)
			}
		}
	}
	return nil
}

// writeFilesystemTar writes the files of a's image as one tar (buildx's
// type=tar): the layers flattened, whiteouts applied; an index's images
// each under its platform's directory.
func writeFilesystemTar(w io.Writer, a Artifact) error {
	imgs, subdirs, err := platformImages(a)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for i, img := range imgs {
		if err := copyFlattened(tw, img, subdirs[i]); err != nil {
			return err
		}
	}
	return tw.Close()
}

// copyFlattened copies img's flattened filesystem into tw, under prefix.
func copyFlattened(tw *tar.Writer, img v1.Image, prefix string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if prefix != "" {
			h.Name = prefix + "/" + strings.TrimPrefix(h.Name, "/")
			if h.Typeflag == tar.TypeLink {
				h.Linkname = prefix + "/" + strings.TrimPrefix(h.Linkname, "/")
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
