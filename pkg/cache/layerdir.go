package cache

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LayerDir keeps the compressed layers of pulled images by digest, so
// builds on the same base download each layer once (kaniko's --cache-dir).
type LayerDir struct {
	Dir string
	// Unwritable, when set, is told when the directory cannot take a
	// layer (a full disk, a read-only one): the layer is then read from
	// where it comes from, and the build goes on without keeping it.
	Unwritable func(error)
}

// StoreFull tells a write that failed for want of room or of write
// access to the store itself, not for what was written.
func StoreFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS)
}

// Wrap returns l backed by the directory: read from there when present,
// downloaded into it (verified against the digest) the first time. Layers
// of other compressions than gzip are returned as they are.
func (d LayerDir) Wrap(l v1.Layer) v1.Layer {
	mt, err := l.MediaType()
	if err != nil || (mt != types.DockerLayer && mt != types.OCILayer) {
		return l
	}
	return &storedLayer{Layer: l, dir: d.Dir, unwritable: d.Unwritable}
}

type storedLayer struct {
	v1.Layer
	dir        string
	unwritable func(error)
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
	err = os.MkdirAll(filepath.Dir(p), 0o700)
	if err == nil {
		var rc io.ReadCloser
		if rc, err = s.Layer.Compressed(); err != nil {
			return nil, err
		}
		err = writeVerified(p, d, rc)
		rc.Close()
	}
	if StoreFull(err) && s.unwritable != nil {
		s.unwritable(err)
		return s.Layer.Compressed()
	}
	if err != nil {
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

// The directory also keeps layers unpacked alone, in overlayfs's form
// (see layers.ExtractOptions.OverlayForm), by diff ID, under unpacked/:
// the other half of what --cache-dir keeps, so that each layer is
// unpacked once for every image that has it. They hold images' setuid
// programs and device nodes as they are, so the store is 0700.

// Unpacked returns where the layer with diffID is kept unpacked, and
// whether it is there.
func (d LayerDir) Unpacked(diffID v1.Hash) (string, bool) {
	dir := filepath.Join(d.Dir, "unpacked", diffID.Algorithm+"-"+diffID.Hex)
	_, err := os.Stat(dir)
	return dir, err == nil
}

// Unpack keeps a layer unpacked under diffID: fill unpacks it into an
// empty directory aside, which appears at its place in one rename once
// fill succeeds, so no build ever sees half of it. A layer another build
// put there first is taken as it is (the same files). It returns the
// layer's directory.
func (d LayerDir) Unpack(diffID v1.Hash, fill func(dir string) error) (string, error) {
	store := filepath.Join(d.Dir, "unpacked")
	// A store an older builder made open to every user is closed here.
	if err := os.MkdirAll(store, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(store, 0o700); err != nil {
		return "", err
	}
	dir, _ := d.Unpacked(diffID)
	tmp, err := os.MkdirTemp(store, ".unpacking-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, ok := d.Unpacked(diffID); !ok {
			return "", err
		}
	}
	return dir, nil
}
