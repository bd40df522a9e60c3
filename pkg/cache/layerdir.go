package cache

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LayerDir keeps the compressed layers of pulled images by digest, so
// builds on the same base download each layer once (kaniko's --cache-dir).
type LayerDir struct {
	Dir string
}

// Wrap returns l backed by the directory: read from there when present,
// downloaded into it (verified against the digest) the first time. Layers
// of other compressions than gzip are returned as they are.
func (d LayerDir) Wrap(l v1.Layer) v1.Layer {
	mt, err := l.MediaType()
	if err != nil || (mt != types.DockerLayer && mt != types.OCILayer) {
		return l
	}
	return &storedLayer{Layer: l, dir: d.Dir}
}

type storedLayer struct {
	v1.Layer
	dir string
}

func (s *storedLayer) Compressed() (io.ReadCloser, error) {
	d, err := s.Layer.Digest()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(s.dir, d.Algorithm, d.Hex)
	if f, err := os.Open(p); err == nil {
		return f, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	rc, err := s.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if err := writeVerified(p, d, rc); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return os.Open(p)
}

func (s *storedLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := s.Compressed()
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &gzipReadCloser{Reader: gz, file: rc}, nil
}

type gzipReadCloser struct {
	*gzip.Reader
	file io.Closer
}

func (g *gzipReadCloser) Close() error {
	g.Reader.Close()
	return g.file.Close()
}
