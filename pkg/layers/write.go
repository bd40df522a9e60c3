package layers

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// WriteTar writes entries, read from the directory root, as a deterministic
// tar stream: entries in the order of a walk of the tree (by path, a
// directory's contents right after it, a whiteout where the name it
// deletes would be, as BuildKit writes them), PAX headers, no user or
// group names,
// and a file that shares its inode with an earlier entry written as a
// hardlink to it. It does not close w.
func WriteTar(ctx context.Context, w io.Writer, root string, entries []Entry, opts TarOptions) error {
	sorted := make([]Entry, len(entries))
	copy(sorted, entries)
	for i := range sorted {
		sorted[i].Path = cleanRel(sorted[i].Path)
	}
	sort.Slice(sorted, func(i, j int) bool { return walkOrder(sorted[i].Path, sorted[j].Path) })

	items := plan(sorted, opts.Parents)
	tw := tar.NewWriter(w)
	lw := &layerWriter{tw: tw, root: root, links: map[inode]string{}, buf: make([]byte, 1<<20), modTime: opts.ModTime, clamp: opts.Clamp}
	ra := lw.readAhead(ctx, items)
	defer ra.stop()
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := ra.wait(ctx, i)
		if err != nil {
			return err
		}
		if it.parent && (p.err != nil || p.fi.st.Mode&unix.S_IFMT != unix.S_IFDIR) {
			p.release()
			continue // a parent that is not a directory in the root
		}
		err = lw.write(it.Entry, p)
		p.release()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// item is an entry to write, or (parent) a directory above entries,
// written only if it is one in the root.
type item struct {
	Entry
	parent bool
}

// plan lists what to write, in order: each entry once (not the root),
// and with parents the directories above each entry not written before
// it.
func plan(sorted []Entry, parents bool) []item {
	var items []item
	written := map[string]bool{}
	var last string
	for i, e := range sorted {
		if e.Path == "" || (i > 0 && tarName(e) == last) {
			continue // the root itself, or a duplicate
		}
		last = tarName(e)
		if parents {
			for j := 0; j < len(e.Path); j++ {
				if e.Path[j] == '/' && !written[e.Path[:j]] {
					written[e.Path[:j]] = true
					items = append(items, item{Entry: Entry{Path: e.Path[:j]}, parent: true})
				}
			}
			written[e.Path] = true
		}
		items = append(items, item{Entry: e})
	}
	return items
}

// walkOrder tells whether path a comes before b in a walk of the tree:
// by name, component by component ("a/x" before "a.b").
func walkOrder(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		switch {
		case a[i] == '/':
			return true
		case b[i] == '/':
			return false
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
}

// tarName is the name an entry has in the tar.
func tarName(e Entry) string {
	if e.Kind == Deleted {
		dir, base := path.Split(e.Path)
		return dir + WhiteoutPrefix + base
	}
	return e.Path
}

type inode struct{ dev, ino uint64 }

// TarOptions tune WriteTar.
type TarOptions struct {
	// ModTime, when set, replaces every entry's modification time, and
	// access and change times are left out: reproducible layers.
	ModTime *time.Time
	// Clamp, when set, replaces every modification time after it with
	// it, and leaves access and change times out (BuildKit's
	// rewrite-timestamp with SOURCE_DATE_EPOCH).
	Clamp *time.Time
	// Parents writes the directories above every entry too, as they are
	// in the root, as BuildKit's layers have them: no directory of the
	// layer is only implied, so it can be an overlayfs lower layer as it
	// is (see ExtractOptions.OverlayForm). The directories are what the
	// layers below have, or what the step made.
	Parents bool
}

type layerWriter struct {
	clamp   *time.Time
	modTime *time.Time
	tw      *tar.Writer
	root    string
	links   map[inode]string // first name written for each multiply linked inode
	buf     []byte
}

func (lw *layerWriter) write(e Entry, p prepared) error {
	if e.Kind == Deleted {
		return lw.tw.WriteHeader(whiteoutHeader(tarName(e)))
	}
	full := filepath.Join(lw.root, filepath.FromSlash(e.Path))
	fi, err := p.fi, p.err
	if err != nil {
		return fmt.Errorf("adding %s to the layer: %w", e.Path, err)
	}
	if fi.st.Mode&unix.S_IFMT == unix.S_IFSOCK {
		// A socket a step left (gpg-agent's, say) means nothing outside
		// its process: Docker, BuildKit and kaniko leave it out too.
		return nil
	}
	h, err := header(e.Path, fi)
	if err != nil {
		return err
	}
	if e.Owner != nil {
		h.Uid, h.Gid = e.Owner.UID, e.Owner.GID
	}
	if lw.modTime != nil {
		h.ModTime, h.AccessTime, h.ChangeTime = *lw.modTime, time.Time{}, time.Time{}
	}
	if lw.clamp != nil {
		if h.ModTime.After(*lw.clamp) {
			h.ModTime = *lw.clamp
		}
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
	}
	if h.Typeflag == tar.TypeReg && fi.st.Nlink > 1 {
		key := inode{dev: fi.st.Dev, ino: fi.st.Ino}
		if first, ok := lw.links[key]; ok {
			h.Typeflag, h.Linkname, h.Size, h.PAXRecords = tar.TypeLink, first, 0, nil
		} else {
			lw.links[key] = e.Path
		}
	}
	if err := lw.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing header of %s: %w", e.Path, err)
	}
	if e.Kind == Opaque && h.Typeflag == tar.TypeDir {
		if err := lw.tw.WriteHeader(whiteoutHeader(e.Path + "/" + OpaqueMarker)); err != nil {
			return err
		}
	}
	if h.Typeflag == tar.TypeReg && h.Size > 0 {
		if p.data != nil && int64(len(p.data)) == h.Size {
			if _, err := lw.tw.Write(p.data); err != nil {
				return fmt.Errorf("adding %s to the layer: %w", e.Path, err)
			}
			return nil
		}
		return lw.copyContent(full, e.Path, h.Size)
	}
	return nil
}

func (lw *layerWriter) copyContent(full, name string, size int64) error {
	// A plain descriptor, not an os.File: os.OpenFile's try at the
	// poller (two fcntl calls and an epoll one that fails for a regular
	// file) cost a sixth of writing a layer of 20,000 small files.
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("adding %s to the layer: %w", name, &os.PathError{Op: "open", Path: full, Err: err})
	}
	defer unix.Close(fd)
	n, err := io.CopyBuffer(lw.tw, io.LimitReader(fdReader(fd), size), lw.buf)
	if err != nil {
		return fmt.Errorf("adding %s to the layer: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("adding %s to the layer: it shrank from %d to %d bytes while being read", name, size, n)
	}
	return nil
}

// fdReader reads a file descriptor.
type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}
