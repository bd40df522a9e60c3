package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Sharing says how builds and steps using one cache mount at once share
// it (RUN --mount=type=cache,sharing=...).
type Sharing string

const (
	Shared  Sharing = "shared"  // all at once
	Private Sharing = "private" // one at a time; the others get an empty one of their own
	Locked  Sharing = "locked"  // one at a time; the others wait
)

// Mounts keeps the contents of cache mounts between builds, one
// directory per id: Dir/<sha256 of id>/data, with a lock file beside it.
// A cache directory appears whole (made aside, then renamed), so a build
// killed while making one leaves nothing another build uses.
type Mounts struct{ Dir string }

// Acquire returns the directory of cache id, for use as sharing says,
// made by fill the first time (fill makes dir, e.g. with the mount's
// mode and owner, seeded from a stage). release ends the use: it unlocks,
// and deletes a private stand-in.
func (m Mounts) Acquire(ctx context.Context, id string, sharing Sharing, fill func(dir string) error) (dir string, release func(), err error) {
	if err := m.prepare(); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(id))
	entry := filepath.Join(m.Dir, hex.EncodeToString(sum[:]))
	if err := m.ensure(entry, fill); err != nil {
		return "", nil, fmt.Errorf("making cache mount %s: %w", id, err)
	}
	lock, err := os.OpenFile(entry+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", nil, err
	}
	unlock := func() { lock.Close() } // closing releases the flock
	switch sharing {
	case Shared, "":
		err = flock(ctx, lock, unix.LOCK_SH)
	case Locked:
		err = flock(ctx, lock, unix.LOCK_EX)
	case Private:
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			lock.Close()
			return m.standIn(fill)
		}
	default:
		err = fmt.Errorf("unknown sharing %q: use shared, private or locked", sharing)
	}
	if err != nil {
		lock.Close()
		return "", nil, err
	}
	return filepath.Join(entry, "data"), unlock, nil
}

// prepare makes the store, the builder's alone.
func (m Mounts) prepare() error {
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(m.Dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*unix.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("cache mount directory %s belongs to uid %d, not to this user", m.Dir, st.Uid)
	}
	return os.Chmod(m.Dir, 0o700)
}

// ensure makes entry/data with fill unless it is there.
func (m Mounts) ensure(entry string, fill func(string) error) error {
	if _, err := os.Stat(filepath.Join(entry, "data")); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(m.Dir, "making-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(filepath.Join(tmp, "data")); err != nil {
		return err
	}
	if err := os.Rename(tmp, entry); err != nil {
		if _, serr := os.Stat(filepath.Join(entry, "data")); serr == nil {
			return nil // another build made it first
		}
		return err
	}
	return nil
}

// standIn gives a private user an empty cache of its own while another
// holds the shared one.
func (m Mounts) standIn(fill func(string) error) (string, func(), error) {
	tmp, err := os.MkdirTemp(m.Dir, "private-")
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(tmp, "data")
	if err := fill(dir); err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(tmp) }, nil
}

// flock takes the lock, waiting for it until ctx ends.
func flock(ctx context.Context, f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
