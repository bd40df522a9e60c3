package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/atomicfile"
)

// refName is the annotation an OCI layout names its images with.
const refName = "org.opencontainers.image.ref.name"

// Layout keeps entries in a local OCI image layout, each named by its key.
// Blobs are written under a temporary name and renamed into place, and
// index.json is rewritten whole under a lock, so builds sharing the
// directory never see a torn entry.
type Layout struct {
	Dir string
	TTL time.Duration // 0 means DefaultTTL; negative never expires
	Now func() time.Time
}

// Get returns the entry for key, or nil when there is none or it expired.
func (l *Layout) Get(ctx context.Context, key string) (*Entry, error) {
	idx, err := l.readIndex()
	if err != nil {
		return nil, err
	}
	for i := len(idx.Manifests) - 1; i >= 0; i-- {
		d := idx.Manifests[i]
		if d.Annotations[refName] != key {
			continue
		}
		img, err := layout.Path(l.Dir).Image(d.Digest)
		if errors.Is(err, os.ErrNotExist) {
			return nil, l.drop(key, fmt.Errorf("%w: entry %s lacks a blob: %v", ErrCorrupt, key, err))
		}
		if err != nil {
			return nil, fmt.Errorf("reading cache entry %s: %w", key, err)
		}
		e, err := imageEntry(img, ttlOr(l.TTL), now(l.Now))
		if err != nil || e == nil || e.Layer == nil {
			return e, err
		}
		if err := l.verify(e.Layer); err != nil {
			return nil, l.drop(key, fmt.Errorf("%w: entry %s: %v", ErrCorrupt, key, err))
		}
		// A layout layer would hash its whole content for its diffID; the
		// entry's config already says it.
		e.Layer = &knownDiffID{Layer: e.Layer, diffID: e.diffID}
		return e, nil
	}
	return nil, nil
}

// Put stores e under key.
func (l *Layout) Put(ctx context.Context, key string, e Entry) error {
	img, err := entryImage(e)
	if err != nil {
		return err
	}
	if err := l.init(); err != nil {
		return err
	}
	if e.Layer != nil {
		d, err := e.Layer.Digest()
		if err != nil {
			return err
		}
		rc, err := e.Layer.Compressed()
		if err != nil {
			return err
		}
		err = l.writeBlob(d, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if err := l.writeBlob(cfgDigest, bytes.NewReader(cfg)); err != nil {
		return err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if err := l.writeBlob(digest, bytes.NewReader(manifest)); err != nil {
		return err
	}
	desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: digest, Size: int64(len(manifest)),
		Annotations: map[string]string{refName: key}}
	return l.updateIndex(func(idx *v1.IndexManifest) {
		kept := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			if m.Annotations[refName] != key {
				kept = append(kept, m)
			}
		}
		idx.Manifests = append(kept, desc)
	})
}

func (l *Layout) init() error {
	if err := os.MkdirAll(filepath.Join(l.Dir, "blobs", "sha256"), 0o700); err != nil {
		return fmt.Errorf("creating the cache directory: %w", err)
	}
	marker := filepath.Join(l.Dir, "oci-layout")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	return atomicfile.Write(marker, []byte(`{"imageLayoutVersion":"1.0.0"}`))
}

func (l *Layout) writeBlob(d v1.Hash, r io.Reader) error {
	target := filepath.Join(l.Dir, "blobs", d.Algorithm, d.Hex)
	if _, err := os.Stat(target); err == nil {
		return nil // content-addressed: whoever wrote it wrote the same bytes
	}
	if err := writeVerified(target, d, r); err != nil {
		return fmt.Errorf("writing cache blob: %w", err)
	}
	return nil
}

// writeVerified writes r to target through a temporary file renamed into
// place once its content hashes to d, so readers never see a torn or
// wrong blob.
func writeVerified(target string, d v1.Hash, r io.Reader) error {
	return atomicfile.WriteFunc(target, 0o600, func(w io.Writer) error {
		h, _, err := v1.SHA256(io.TeeReader(r, w))
		if err == nil && h != d {
			err = fmt.Errorf("blob %s: the content hashes to %s", d, h)
		}
		return err
	})
}

func (l *Layout) readIndex() (*v1.IndexManifest, error) {
	data, err := os.ReadFile(filepath.Join(l.Dir, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(l.Dir, "index.json"), err)
	}
	return &idx, nil
}

// verify checks a cache entry's layer blob before it is used: its size,
// then its digest.
func (l *Layout) verify(layer v1.Layer) error {
	d, err := layer.Digest()
	if err != nil {
		return err
	}
	size, err := layer.Size()
	if err != nil {
		return err
	}
	p := filepath.Join(l.Dir, "blobs", d.Algorithm, d.Hex)
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		os.Remove(p)
		return fmt.Errorf("blob %s is not %d bytes long", d, size)
	}
	got, _, err := v1.SHA256(f)
	if err != nil {
		return err
	}
	if got != d {
		os.Remove(p)
		return fmt.Errorf("blob %s hashes to %s", d, got)
	}
	return nil
}

// drop removes key's entries from the index, after they failed
// verification, and returns why.
func (l *Layout) drop(key string, why error) error {
	if err := l.updateIndex(func(idx *v1.IndexManifest) {
		kept := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			if m.Annotations[refName] != key {
				kept = append(kept, m)
			}
		}
		idx.Manifests = kept
	}); err != nil {
		return fmt.Errorf("%w (dropping it: %v)", why, err)
	}
	return why
}

// updateIndex rewrites index.json under an exclusive lock.
func (l *Layout) updateIndex(change func(*v1.IndexManifest)) error {
	lock, err := os.OpenFile(filepath.Join(l.Dir, "index.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking the cache index: %w", err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	idx, err := l.readIndex()
	if err != nil {
		return err
	}
	change(idx)
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(l.Dir, "index.json"), data)
}

// knownDiffID is a layer whose diffID is known without reading it.
type knownDiffID struct {
	v1.Layer
	diffID v1.Hash
}

func (k *knownDiffID) DiffID() (v1.Hash, error) { return k.diffID, nil }
