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
// tar stream: entries sorted by path, PAX headers, no user or group names,
// and a file that shares its inode with an earlier entry written as a
// hardlink to it. It does not close w.
func WriteTar(ctx context.Context, w io.Writer, root string, entries []Entry, opts TarOptions) error {
	sorted := make([]Entry, len(entries))
	copy(sorted, entries)
	for i := range sorted {
		sorted[i].Path = cleanRel(sorted[i].Path)
	}
	sort.Slice(sorted, func(i, j int) bool { return tarName(sorted[i]) < tarName(sorted[j]) })

	tw := tar.NewWriter(w)
	lw := &layerWriter{tw: tw, root: root, links: map[inode]string{}, buf: make([]byte, 1<<20), modTime: opts.ModTime, clamp: opts.Clamp}
	written := map[string]bool{} // directories, with Parents
	var last string
	for i, e := range sorted {
		if e.Path == "" || (i > 0 && tarName(e) == last) {
			continue // the root itself, or a duplicate
		}
		last = tarName(e)
		if err := ctx.Err(); err != nil {
			return err
		}
		if opts.Parents {
			if err := lw.parents(e.Path, written); err != nil {
				return err
			}
			written[e.Path] = true
		}
		if err := lw.write(e); err != nil {
			return err
		}
	}
	return tw.Close()
}

// parents writes the directories above rel not written yet, as they are
// in the root. A parent that is not a directory there is left out.
func (lw *layerWriter) parents(rel string, written map[string]bool) error {
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' || written[rel[:i]] {
			continue
		}
		dir := rel[:i]
		written[dir] = true
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(lw.root, filepath.FromSlash(dir)), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if err := lw.write(Entry{Path: dir}); err != nil {
			return err
		}
	}
	return nil
}

// tarName is the name an entry has in the tar, which is also its sort key.
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

func (lw *layerWriter) write(e Entry) error {
	if e.Kind == Deleted {
		return lw.tw.WriteHeader(whiteoutHeader(tarName(e)))
	}
	full := filepath.Join(lw.root, filepath.FromSlash(e.Path))
	fi, err := lstat(full)
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
		return lw.copyContent(full, e.Path, h.Size)
	}
	return nil
}

func (lw *layerWriter) copyContent(full, name string, size int64) error {
	f, err := os.OpenFile(full, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("adding %s to the layer: %w", name, err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(lw.tw, io.LimitReader(f, size), lw.buf)
	if err != nil {
		return fmt.Errorf("adding %s to the layer: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("adding %s to the layer: it shrank from %d to %d bytes while being read", name, size, n)
	}
	return nil
}
