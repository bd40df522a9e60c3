// Package snapshot records the metadata of a directory tree and compares two
// records to find what a step added, changed and deleted, as the entries of
// a layer (layers.Entry, as package overlay gives them). It never reads file
// contents: a file whose inode, size, mode, owner, mtime and ctime are all
// unchanged is unchanged.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

// meta is what a Tree remembers of one path.
type meta struct {
	mode      uint32 // type and permission bits
	uid, gid  uint32
	size      int64
	dev, ino  uint64
	mtime     int64 // nanoseconds
	ctime     int64 // nanoseconds; not compared for directories
	btime     int64 // birth time in nanoseconds; 0 where the filesystem has none
	link      string
	dirXattrs string // the extended attributes of a directory, flattened
	rdev      uint64
}

func (m *meta) isDir() bool { return m.mode&unix.S_IFMT == unix.S_IFDIR }

// Tree is the recorded state of a directory tree, keyed by slash-separated
// paths relative to its root ("etc/passwd"). The root itself is not in it.
type Tree struct {
	root    string
	entries map[string]*meta
}

// Len is the number of paths recorded.
func (t *Tree) Len() int { return len(t.entries) }

// Has reports whether rel was present.
func (t *Tree) Has(rel string) bool {
	_, ok := t.entries[rel]
	return ok
}

// IsDir reports whether rel was a directory.
func (t *Tree) IsDir(rel string) bool {
	m, ok := t.entries[rel]
	return ok && m.isDir()
}

// Options tune Walk.
type Options struct {
	// Skip, when set, is asked of every path; a true answer leaves the path
	// (and everything under it) out of the tree.
	Skip func(rel string) bool
}

// Walk records the metadata of everything below root. Directories are
// read in parallel, bounded by the number of cores.
func Walk(ctx context.Context, root string, opts Options) (*Tree, error) {
	t := &Tree{root: root, entries: map[string]*meta{}}
	w := &walker{t: t, opts: opts, slots: make(chan struct{}, 2*runtime.NumCPU())}
	if err := w.dir(ctx, root, ""); err != nil {
		return nil, fmt.Errorf("recording the filesystem at %s: %w", root, err)
	}
	return t, nil
}

// walker reads directories concurrently into one tree.
type walker struct {
	t     *Tree
	opts  Options
	mu    sync.Mutex
	slots chan struct{} // goroutines that may run besides the caller's
}

func (w *walker) dir(ctx context.Context, dir, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return err
	}
	fd := int(f.Fd())
	found := make(map[string]*meta, len(names))
	var subdirs []string
	for _, name := range names {
		childRel := path.Join(rel, name)
		if w.opts.Skip != nil && w.opts.Skip(childRel) {
			continue
		}
		m, err := statAt(fd, dir, name)
		if errors.Is(err, unix.ENOENT) {
			continue // removed while we looked
		}
		if err != nil {
			f.Close()
			return err
		}
		found[childRel] = m
		if m.isDir() {
			subdirs = append(subdirs, name)
		}
	}
	f.Close()
	w.mu.Lock()
	maps.Copy(w.t.entries, found)
	w.mu.Unlock()

	var wg sync.WaitGroup
	errs := make(chan error, len(subdirs))
	for _, name := range subdirs {
		sub, subRel := filepath.Join(dir, name), path.Join(rel, name)
		select {
		case w.slots <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-w.slots }()
				if err := w.dir(ctx, sub, subRel); err != nil {
					errs <- err
				}
			}()
		default:
			if err := w.dir(ctx, sub, subRel); err != nil {
				wg.Wait()
				return err
			}
		}
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func statAt(dirfd int, dir, name string) (*meta, error) {
	var st unix.Statx_t
	if err := unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &st); err != nil {
		return nil, err
	}
	m := &meta{
		mode: uint32(st.Mode), uid: st.Uid, gid: st.Gid, size: int64(st.Size),
		dev: unix.Mkdev(st.Dev_major, st.Dev_minor), ino: st.Ino, rdev: unix.Mkdev(st.Rdev_major, st.Rdev_minor),
		mtime: nanos(st.Mtime), ctime: nanos(st.Ctime),
	}
	if st.Mask&unix.STATX_BTIME != 0 {
		m.btime = nanos(st.Btime)
	}
	switch m.mode & unix.S_IFMT {
	case unix.S_IFLNK:
		buf := make([]byte, st.Size+1)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return nil, err
		}
		m.link = string(buf[:n])
	case unix.S_IFDIR:
		// Changing an attribute changes only the ctime, which is not
		// compared for directories, so their attributes are kept instead.
		x, err := flatXattrs(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		m.dirXattrs = x
	}
	return m, nil
}

func nanos(t unix.StatxTimestamp) int64 { return t.Sec*1e9 + int64(t.Nsec) }

// flatXattrs returns p's extended attributes as one comparable string.
func flatXattrs(p string) (string, error) {
	attrs, err := xattr.List(p)
	if err != nil || len(attrs) == 0 {
		return "", err
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(0)
		b.Write(attrs[k])
		b.WriteByte(0)
	}
	return b.String(), nil
}
