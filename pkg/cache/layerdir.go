package cache

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/spread"
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

// ErrCorrupt is a stored layer (kept, or in a step cache) whose content
// is not what its digest says (a disk error, a hand that changed it): it
// is removed from the store, to be fetched or made anew.
var ErrCorrupt = errors.New("a stored layer was damaged and is removed from the store")

func (s *storedLayer) Compressed() (io.ReadCloser, error) {
	d, err := s.Layer.Digest()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(s.dir, d.Algorithm, d.Hex)
	if f, err := os.Open(p); err == nil {
		// Verified as it is read: the size first, the digest at the end.
		fi, serr := f.Stat()
		size, zerr := s.Layer.Size()
		if serr == nil && (zerr != nil || fi.Size() == size) {
			return &verifiedFile{f: f, path: p, want: d, h: sha256.New()}, nil
		}
		f.Close()
		os.Remove(p) // cut short: stored anew below
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

// verifiedFile reads a kept layer, checking its digest at the end; a
// mismatch removes the file and fails the read with ErrCorrupt.
type verifiedFile struct {
	f    *os.File // not embedded: its WriteTo would read past the check
	path string
	want v1.Hash
	h    hash.Hash
}

func (v *verifiedFile) Close() error { return v.f.Close() }

func (v *verifiedFile) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			os.Remove(v.path)
			return n, fmt.Errorf("%w: %s hashes to sha256:%s", ErrCorrupt, v.want, got)
		}
	}
	return n, err
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
	spread.Children(store) // see package spread
	dir, _ := d.Unpacked(diffID)
	// The aside directory's lock, held while it fills: a build killed
	// meanwhile leaves it unlocked, and Sweep removes what it left.
	lock, err := os.CreateTemp(store, ".unpacking-*.lock")
	if err != nil {
		return "", err
	}
	defer func() {
		os.Remove(lock.Name())
		lock.Close()
	}()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return "", err
	}
	tmp := strings.TrimSuffix(lock.Name(), ".lock")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	// 0755 whatever the umask: the layer's root directory, as before.
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

// staleAfter is how old a half-written blob must be before Sweep takes
// it for a dead build's: blobs are written without a lock.
const staleAfter = time.Hour

// Sweep removes what builds that died left in the directory: layers half
// unpacked aside (their lock is free), and blobs half written over an
// hour ago. A build still writing is never touched. It returns how many
// it removed.
func (d LayerDir) Sweep() int {
	n := 0
	store := filepath.Join(d.Dir, "unpacked")
	locks, _ := filepath.Glob(filepath.Join(store, ".unpacking-*.lock"))
	for _, l := range locks {
		f, err := os.OpenFile(l, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			if os.RemoveAll(strings.TrimSuffix(l, ".lock")) == nil {
				n++
			}
			os.Remove(l)
		}
		f.Close()
	}
	// An aside directory without its lock file: its build died between
	// the two removals, or before the lock was taken (never: it is made
	// first).
	dirs, _ := filepath.Glob(filepath.Join(store, ".unpacking-*"))
	for _, dir := range dirs {
		if strings.HasSuffix(dir, ".lock") {
			continue
		}
		if _, err := os.Stat(dir + ".lock"); errors.Is(err, os.ErrNotExist) {
			if os.RemoveAll(dir) == nil {
				n++
			}
		}
	}
	temps, _ := filepath.Glob(filepath.Join(d.Dir, "sha256", ".*"))
	for _, p := range temps {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > staleAfter {
			if os.Remove(p) == nil {
				n++
			}
		}
	}
	return n
}

// Recheck verifies the kept copy behind l (a layer from Wrap) after a
// read of it failed: a copy that does not hash to its digest is removed
// and ErrCorrupt returned, so that the caller fetches the layer anew;
// otherwise nil (the failure was not the store's).
func Recheck(l v1.Layer) error {
	s, ok := l.(*storedLayer)
	if !ok {
		return nil
	}
	d, err := s.Layer.Digest()
	if err != nil {
		return nil
	}
	p := filepath.Join(s.dir, d.Algorithm, d.Hex)
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	got, _, err := v1.SHA256(f)
	if err != nil || got == d {
		return nil
	}
	os.Remove(p)
	return fmt.Errorf("%w: %s hashes to %s", ErrCorrupt, d, got)
}
