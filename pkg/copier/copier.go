// Package copier copies files into a root filesystem the way BuildKit's
// COPY and ADD do, and lists every path it wrote, for the layer: sources
// in (the build context, a stage's or an image's files, an archive, a
// file a caller made), entries and files out. It knows no build: the
// caller resolves --from, --chown and downloads.
package copier

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/dirlist"
	"github.com/buildcrew/builder/internal/filecopy"
	"github.com/buildcrew/builder/internal/xattr"
	"github.com/buildcrew/builder/pkg/layers"
)

// Copier copies files into one root the way BuildKit's COPY does, and
// remembers every path it wrote: the layer is made of those.
type Copier struct {
	root     string                         // the stage's root
	src      *Source                        // nil for downloads and here-docs
	owner    *layers.Owner                  // --chown; nil keeps the source's
	mode     *Chmod                         // --chmod
	excludes *patternmatcher.PatternMatcher // --exclude
	links    map[[2]uint64]string           // source inode -> first copy
	written  map[string]layers.Owner        // path in the root -> owner it should have
	outline  *layers.Outline                // what the root left out, when it is an outline
	isRoot   bool
}

// Options are COPY's flags and what the root is.
type Options struct {
	Owner    *layers.Owner                  // --chown; nil keeps the source's (root for the context)
	Mode     *Chmod                         // --chmod
	Excludes *patternmatcher.PatternMatcher // --exclude
	// Outline, when set, lists what the root left out (see layers.Outline).
	Outline *layers.Outline
}

// New makes a copier into root reading src (nil for files the caller
// makes: here-documents, downloads, WORKDIR).
func New(root string, src *Source, o Options) *Copier {
	return &Copier{
		root: root, src: src, owner: o.Owner, mode: o.Mode, excludes: o.Excludes, outline: o.Outline,
		links: map[[2]uint64]string{}, written: map[string]layers.Owner{}, isRoot: os.Geteuid() == 0,
	}
}

// From returns a copier into the same root, with the same options and the
// same record of what was written (one layer), that reads src.
func (cp *Copier) From(src *Source) *Copier {
	c := *cp
	c.src, c.links = src, map[[2]uint64]string{}
	return &c
}

// rel is a host path inside the root relative to it.
func (cp *Copier) rel(host string) string {
	rel, err := filepath.Rel(cp.root, host)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}

// record notes a written path, given as a host path inside the root, and
// the owner it was given. The layer records that owner even where an
// unprivileged build could not set it on disk.
func (cp *Copier) record(host string, uid, gid int) {
	if rel := cp.rel(host); rel != "" && rel != "." && !strings.HasPrefix(rel, "..") {
		cp.written[rel] = layers.Owner{UID: uid, GID: gid}
	}
}

// recordAsIs notes a written path whose owner on disk is right, unless
// this copier made it and noted its owner already (an unprivileged build
// cannot give a directory it made --chown's owner on disk).
func (cp *Copier) recordAsIs(host string) {
	if _, ok := cp.written[cp.rel(host)]; ok {
		return
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	cp.record(host, int(st.Uid), int(st.Gid))
}

// entries lists what was written, for the layer.
func (cp *Copier) Entries() []layers.Entry {
	out := make([]layers.Entry, 0, len(cp.written))
	for p, o := range cp.written {
		out = append(out, layers.Entry{Path: p, Owner: &o})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// MkdirAll makes the directory rel inside the root, resolving symlinks
// inside it; directories it creates are 0755 (an octal --chmod's mode, as
// in BuildKit) and owned by --chown's owner (else root). It returns the
// host path.
func (cp *Copier) MkdirAll(rel string) (string, error) {
	return cp.mkdirAll(rel, cp.mode)
}

// mkdirAll is MkdirAll with the --chmod to give the directories it makes
// (nil: 0755).
func (cp *Copier) mkdirAll(rel string, mode *Chmod) (string, error) {
	uid, gid := 0, 0
	if cp.owner != nil {
		uid, gid = cp.owner.UID, cp.owner.GID
	}
	return layers.MkdirAll(cp.root, rel, cp.outline, func(host string) error {
		if err := cp.chown(host, uid, gid); err != nil {
			return err
		}
		if c := mode; c != nil && c.octal != nil {
			if err := unix.Chmod(host, *c.octal); err != nil {
				return err
			}
		}
		cp.record(host, uid, gid)
		return nil
	})
}

// copyFile copies one source file (or symlink, device...) to dst, a host
// path whose parent exists.
func (cp *Copier) copyFile(srcHost, dst string, fi os.FileInfo) error {
	if cp.unchanged(srcHost, dst, fi) {
		return nil
	}
	if err := cp.clearFileTarget(dst); err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode().IsRegular():
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := cp.links[key]; ok && st.Nlink > 1 {
			if err := os.Link(first, dst); err != nil {
				return err
			}
			uid, gid := cp.ownerOf(fi)
			cp.record(dst, uid, gid)
			return nil
		}
		if err := filecopy.Content(srcHost, dst); err != nil {
			return err
		}
		if st.Nlink > 1 {
			cp.links[key] = dst
		}
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(srcHost)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case fi.Mode()&(os.ModeDevice|os.ModeNamedPipe) != 0:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return nil // sockets are not copied
	}
	return cp.setMetadata(srcHost, dst, fi)
}

// unchanged tells whether dst already is what copying the source file
// there would make it: the same type, mode, owner, size, modification
// time, extended attributes and contents (or link target). BuildKit's
// differ leaves such a file out of the COPY's layer; so does this copier,
// which leaves it alone. A file of several hard links is always copied,
// so that the layer keeps the links.
func (cp *Copier) unchanged(srcHost, dst string, fi os.FileInfo) bool {
	st := fi.Sys().(*syscall.Stat_t)
	isLink := fi.Mode()&os.ModeSymlink != 0
	if st.Nlink > 1 || !isLink && !fi.Mode().IsRegular() {
		return false
	}
	var d unix.Stat_t
	if unix.Lstat(dst, &d) != nil || d.Nlink > 1 || d.Mode&unix.S_IFMT != st.Mode&unix.S_IFMT ||
		d.Size != st.Size || d.Mtim.Sec != st.Mtim.Sec || d.Mtim.Nsec != st.Mtim.Nsec {
		return false
	}
	if uid, gid := cp.ownerOf(fi); int(d.Uid) != uid || int(d.Gid) != gid {
		return false
	}
	if !isLink && d.Mode&0o7777 != cp.modeOf(fi) {
		return false
	}
	sx, err := xattr.List(srcHost)
	if err != nil {
		return false
	}
	dx, err := xattr.List(dst)
	if err != nil || !maps.EqualFunc(sx, dx, bytes.Equal) {
		return false
	}
	if isLink {
		a, errA := os.Readlink(srcHost)
		b, errB := os.Readlink(dst)
		return errA == nil && errB == nil && a == b
	}
	same, err := filecopy.Same(srcHost, dst)
	return err == nil && same
}

// clearFileTarget removes what is at dst before a file is copied there; a
// directory in the way is an error, as in BuildKit, naming its path in
// the image.
func (cp *Copier) clearFileTarget(dst string) error {
	fi, err := os.Lstat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("cannot replace the directory /%s with a file", cp.rel(dst))
	}
	return os.Remove(dst)
}

// copyDir copies the directory srcHost to dst. rel is its path relative to
// the source root (for .dockerignore) and exclRel relative to the COPY
// source (for --exclude). The top directory of a COPY only receives the
// contents and the source directory's times, not its mode or owner. A directory .dockerignore
// leaves out is entered only to find exceptions ("!dir/keep"): it is lazy,
// made (with its parents) only when one is found.
func (cp *Copier) copyDir(srcHost, dst, rel, exclRel string, top bool, lazyParent func() error) error {
	fi, err := os.Lstat(srcHost)
	if err != nil {
		return err
	}
	created, made := false, false
	ensure := func() error {
		if made {
			return nil
		}
		if lazyParent != nil {
			if err := lazyParent(); err != nil {
				return err
			}
		}
		dfi, err := os.Lstat(dst)
		switch {
		case err == nil && dfi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("cannot copy the directory %s onto the symlink /%s", rel, cp.rel(dst))
		case err == nil && !dfi.IsDir():
			return fmt.Errorf("cannot copy the directory %s onto the file /%s", rel, cp.rel(dst))
		case errors.Is(err, os.ErrNotExist) && cp.outline.Holds(cp.root, cp.rel(dst)):
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
			created = true
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("cannot copy the directory %s onto the file /%s", rel, cp.rel(dst)) // one the outline left out
		case err != nil:
			return err
		case !top:
			// An existing directory takes the source's mode, as in
			// BuildKit; one whose mode that changes is a change of
			// the layer (its times alone are not, as in BuildKit's
			// differ: it is written as the parent of what changed).
			if mode := cp.modeOf(fi); uint32(dfi.Sys().(*syscall.Stat_t).Mode&0o7777) != mode {
				if err := unix.Chmod(dst, mode); err != nil {
					return err
				}
				cp.recordAsIs(dst)
			}
		}
		made = true
		if created {
			uid, gid := cp.ownerOf(fi)
			cp.record(dst, uid, gid)
		}
		return nil
	}
	if lazyParent == nil {
		if err := ensure(); err != nil {
			return err
		}
	}
	names, err := dirlist.Names(srcHost)
	if err != nil {
		return err
	}
	for _, name := range names {
		childRel, childExcl := path.Join(rel, name), path.Join(exclRel, name)
		if cp.excluded(childExcl) {
			continue
		}
		childSrc, childDst := filepath.Join(srcHost, name), filepath.Join(dst, name)
		cfi, err := os.Lstat(childSrc)
		if err != nil {
			return err
		}
		ignored := cp.src != nil && cp.src.Ignored(childRel)
		if cfi.IsDir() {
			if ignored && !cp.src.Ignore.Exclusions() {
				continue
			}
			var lazy func() error
			if ignored {
				lazy = ensure
			} else if err := ensure(); err != nil {
				return err
			}
			if err := cp.copyDir(childSrc, childDst, childRel, childExcl, false, lazy); err != nil {
				return err
			}
			continue
		}
		if ignored {
			continue
		}
		if err := ensure(); err != nil {
			return err
		}
		if err := cp.copyFile(childSrc, childDst, cfi); err != nil {
			return err
		}
	}
	switch {
	case created && !top:
		return cp.setMetadata(srcHost, dst, fi)
	case top && made:
		// BuildKit gives the destination, made or already there, the
		// source directory's times (not its mode or owner): a COPY --link
		// layer is then the same whenever it is built.
		return setTimes(dst, fi)
	}
	return nil
}

func (cp *Copier) excluded(rel string) bool {
	if cp.excludes == nil {
		return false
	}
	m, err := cp.excludes.MatchesOrParentMatches(rel)
	return err == nil && m
}

// modeOf is the mode a copy gets: the source's, with the setuid, setgid
// and sticky bits, changed by --chmod.
func (cp *Copier) modeOf(fi os.FileInfo) uint32 {
	m := fi.Sys().(*syscall.Stat_t).Mode & 0o7777
	if cp.mode != nil {
		return cp.mode.apply(m, fi.IsDir())
	}
	return m
}

// ownerOf is the owner a copy gets: --chown, root for context files, else
// the source's.
func (cp *Copier) ownerOf(fi os.FileInfo) (int, int) {
	switch {
	case cp.owner != nil:
		return cp.owner.UID, cp.owner.GID
	case cp.src == nil || cp.src.Context:
		return 0, 0
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

func (cp *Copier) chown(p string, uid, gid int) error {
	if err := os.Lchown(p, uid, gid); err != nil && cp.isRoot {
		return err
	}
	return nil
}

// setMetadata gives dst its owner, mode, extended attributes (file
// capabilities among them) and times, in that order: chown clears
// capabilities and setuid bits.
func (cp *Copier) setMetadata(srcHost, dst string, fi os.FileInfo) error {
	uid, gid := cp.ownerOf(fi)
	if err := cp.chown(dst, uid, gid); err != nil {
		return err
	}
	cp.record(dst, uid, gid)
	isLink := fi.Mode()&os.ModeSymlink != 0
	if !isLink {
		if err := unix.Chmod(dst, cp.modeOf(fi)); err != nil {
			return &os.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	attrs, err := xattr.List(srcHost)
	if err != nil {
		return err
	}
	for k, v := range attrs {
		if err := xattr.Set(dst, k, v); err != nil && cp.isRoot && !errors.Is(err, unix.ENOTSUP) {
			return err
		}
	}
	return setTimes(dst, fi)
}

// setTimes gives dst (not what it links to) fi's access and modification
// times.
func setTimes(dst string, fi os.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	ts := []unix.Timespec{
		{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: dst, Err: err}
	}
	return nil
}

// WriteFile writes a file COPY makes itself (a here-document, a download)
// named name at dest: into dest when it ends with "/" or is a directory,
// else at dest itself. --chown and --chmod apply; mode is its mode
// without --chmod.
func (cp *Copier) WriteFile(dest, name string, r io.Reader, mode uint32, mtime time.Time) error {
	dst, err := cp.fileTarget(dest, name)
	if err != nil {
		return err
	}
	return cp.writeFile(dst, r, mode, mtime)
}

func (cp *Copier) writeFile(dst string, r io.Reader, mode uint32, mtime time.Time) error {
	if err := cp.clearFileTarget(dst); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	uid, gid := 0, 0
	if cp.owner != nil {
		uid, gid = cp.owner.UID, cp.owner.GID
	}
	if err := cp.chown(dst, uid, gid); err != nil {
		return err
	}
	if cp.mode != nil {
		mode = cp.mode.apply(mode, false)
	}
	if err := unix.Chmod(dst, mode); err != nil {
		return err
	}
	if err := os.Chtimes(dst, mtime, mtime); err != nil {
		return err
	}
	cp.record(dst, uid, gid)
	return nil
}
