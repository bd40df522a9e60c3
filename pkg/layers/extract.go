package layers

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/xattr"
)

// Limits on entry paths: resolving every component safely costs time
// that grows with the cube of the depth, so absurd paths are refused.
const (
	MaxDepth   = 256
	MaxPathLen = 4096
)

// ExtractOptions tune Extract.
type ExtractOptions struct {
	// Whiteouts applies ".wh." entries as deletions, as image layers need;
	// otherwise they are ordinary files (an archive given to ADD).
	Whiteouts bool
	// Owner, when set, replaces the owner of every entry (ADD --chown).
	Owner *Owner
	// Written, when set, is called with every path the archive creates or
	// replaces, relative to the root, including parent directories it had
	// to create, and the owner the archive gives it (unprivileged, the
	// files on disk cannot have it).
	Written func(rel string, owner Owner)
	// Spare, when set, is left alone: no entry is written over a path it
	// covers (a shared root's ignored paths), and no whiteout or opaque
	// marker removes one.
	Spare *Ignore
	// OverlayForm keeps the archive as overlayfs keeps a layer, alone:
	// whiteouts stay, as 0/0 character devices and the opaque attribute
	// (xattr.Opaque), and the directories the archive only implies (a
	// path below, no entry of their own) carry xattr.Implicit, for
	// overlay.Stack to leave the metadata below them alone; when no
	// directory is left only implied, the root carries xattr.Whole: the
	// directory can be an overlayfs lower layer as it is. Needs root.
	OverlayForm bool
	// Outline, when set, makes an outline of the layers (see Outline):
	// what they hold is noted there instead of written, but directories,
	// symlinks and the files it keeps. A root extracted so must only have
	// layers extracted over it the same way, with the same Outline.
	Outline *Outline
}

// Extract unpacks the tar stream r into root. Every entry is resolved inside
// root, following symlinks as if root were "/", so no entry, link or
// whiteout can reach outside it. Existing paths are replaced as the OCI
// layer format says: a directory entry merges with an existing directory,
// anything else replaces what was there.
func Extract(ctx context.Context, root string, r io.Reader, opts ExtractOptions) error {
	x := &extractor{
		root:    root,
		opts:    opts,
		created: map[string]bool{},
		parents: map[string]bool{},
		dirs:    map[string]bool{},
		fresh:   map[string]bool{},
		made:    map[string]bool{},
		implied: map[string]bool{},
		isRoot:  os.Geteuid() == 0,
	}
	x.writers = startWriters(x)
	err := x.entries(ctx, tar.NewReader(r))
	if serr := x.writers.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	return x.finish()
}

func (x *extractor) entries(ctx context.Context, tr *tar.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		if err := x.entry(h, tr); err != nil {
			return err
		}
	}
}

type dirTime struct {
	host  string
	times []unix.Timespec
}

type extractor struct {
	root    string
	opts    ExtractOptions
	created map[string]bool // paths the archive wrote, symlinks resolved
	parents map[string]bool // ancestors of paths the archive wrote
	dirs    map[string]bool // directories known to exist, by relative path
	times   []dirTime       // directory times, set once all entries are in
	// fresh holds the directories this extraction created and made the
	// host paths it created: in a fresh directory only what the archive
	// made can exist, so nothing else needs looking up before creation.
	fresh, made map[string]bool
	// implied holds the directories that carry xattr.Implicit (OverlayForm).
	implied map[string]bool
	isRoot  bool
	writers *fileWriters
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	rel := cleanRel(h.Name)
	if rel == "" || h.Typeflag == tar.TypeXGlobalHeader {
		return nil // the root keeps its own metadata
	}
	if h.Typeflag == tar.TypeGNUSparse || hasSparse(h) {
		return fmt.Errorf("extracting %s: sparse archive entries are not supported (image layers never need them)", rel)
	}
	if depth := strings.Count(rel, "/") + 1; depth > MaxDepth || len(rel) > MaxPathLen {
		return fmt.Errorf("extracting %.60s...: a path %d levels deep and %d bytes long is refused (limits: %d levels, %d bytes)",
			rel, depth, len(rel), MaxDepth, MaxPathLen)
	}
	if x.opts.Spare.Covers(rel) {
		return nil
	}
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if (x.opts.Whiteouts || x.opts.OverlayForm) && strings.HasPrefix(base, WhiteoutPrefix) {
		if err := x.writers.wait(); err != nil {
			return err
		}
		if x.opts.OverlayForm {
			return x.markWhiteout(dir, base)
		}
		if base == OpaqueMarker {
			return x.opaque(dir)
		}
		return x.whiteout(path.Join(dir, strings.TrimPrefix(base, WhiteoutPrefix)))
	}
	parent, err := x.mkdirAll(dir)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", rel, err)
	}
	target := filepath.Join(parent, base)
	hides := false
	if h.Typeflag == tar.TypeDir && x.opts.OverlayForm && x.made[target] {
		// A directory in place of what this archive put here first (a
		// file, a whiteout): that hid lower layers' directory, so must it.
		if err := x.writers.wait(); err != nil {
			return err
		}
		if fi, err := os.Lstat(target); err == nil && !fi.IsDir() {
			hides = true
		}
	}
	remains := false
	if !x.fresh[parent] || x.made[target] {
		if remains, err = x.clear(target, h.Typeflag == tar.TypeDir); err != nil {
			return fmt.Errorf("extracting %s: %w", rel, err)
		}
	}
	x.made[target] = true
	if h.Typeflag == tar.TypeDir && !remains {
		x.fresh[target] = true
	}
	if o := x.opts.Outline; o != nil {
		// The outline follows what the path now holds; a path reached
		// through a symlink is noted where it resolved to.
		at := hostRel(x.root, target)
		o.remove(at)
		if !o.writes(h, rel) && !x.linksOnDisk(h) {
			o.add(at)
			x.record(target, x.ownerOf(h))
			return nil
		}
	}
	if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA {
		// Written wants the file in place when it is told: no handing out.
		if h.Size <= smallFile && x.opts.Written == nil {
			err = x.writers.write(rel, target, h, r)
		} else if err = x.writeRegular(target, h, r); err != nil {
			err = fmt.Errorf("extracting %s: %w", rel, err)
		}
		if err != nil {
			return err
		}
		x.record(target, x.ownerOf(h))
		return nil
	}
	if h.Typeflag == tar.TypeLink {
		if err := x.writers.wait(); err != nil {
			return err
		}
	}
	made, err := x.create(target, h, r)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", rel, err)
	}
	if !made {
		return nil
	}
	if h.Typeflag != tar.TypeLink {
		if err := x.setMetadata(target, h); err != nil {
			return fmt.Errorf("extracting %s: %w", rel, err)
		}
	}
	if h.Typeflag == tar.TypeDir && target == filepath.Join(x.root, filepath.FromSlash(rel)) {
		// Only a path that resolves to itself can be taken from the
		// cache (see mkdirAll): one through a symlink, used as it is,
		// would let the kernel follow the symlink out of the root.
		x.dirs[rel] = true
	}
	if h.Typeflag == tar.TypeDir {
		if x.opts.OverlayForm {
			if err := unix.Lremovexattr(target, xattr.Implicit); err != nil && !errors.Is(err, unix.ENODATA) {
				return fmt.Errorf("extracting %s: %w", rel, err)
			}
			delete(x.implied, target)
		}
		if hides {
			if err := xattr.Set(target, xattr.Opaque, []byte("y")); err != nil {
				return fmt.Errorf("extracting %s: %w", rel, err)
			}
		}
	}
	x.record(target, x.ownerOf(h))
	return nil
}

// record notes that the archive wrote the host path p, owned by owner.
// Paths are noted where they resolved to: an entry through a symlink
// wrote the target.
func (x *extractor) record(p string, owner Owner) {
	rel := hostRel(x.root, p)
	x.created[rel] = true
	for p := path.Dir(rel); p != "."; p = path.Dir(p) {
		x.parents[p] = true
	}
	if x.opts.Written != nil {
		x.opts.Written(rel, owner)
	}
}

// mkdirAll makes sure the directory rel exists inside the root, creating
// missing components with mode 0755, and returns its host path.
func (x *extractor) mkdirAll(rel string) (string, error) {
	if rel == "" || rel == "." {
		return x.root, nil
	}
	if x.dirs[rel] {
		return filepath.Join(x.root, filepath.FromSlash(rel)), nil
	}
	if x.writers.busy(filepath.Join(x.root, filepath.FromSlash(rel))) {
		if err := x.writers.wait(); err != nil {
			return "", err
		}
	}
	if _, err := x.mkdirAll(path.Dir(rel)); err != nil {
		return "", err
	}
	if err := x.unmarkWhiteout(rel); err != nil {
		return "", err
	}
	host, made, err := EnsureDir(x.root, rel, x.opts.Outline)
	if err != nil {
		return "", err
	}
	if made {
		// Not an entry of the archive: the entries below it (if any, not
		// only markers) record it as their parent.
		if x.opts.Written != nil {
			var owner Owner // made as root's, or --chown's
			if x.opts.Owner != nil {
				owner = *x.opts.Owner
			}
			x.opts.Written(hostRel(x.root, host), owner)
		}
		x.made[host], x.fresh[host] = true, true
		if x.opts.OverlayForm {
			if err := xattr.Set(host, xattr.Implicit, []byte("y")); err != nil {
				return "", err
			}
			x.implied[host] = true
		}
	}
	// Only a path that resolves to itself can be taken from the cache:
	// one reached through a symlink must be resolved again each time.
	if host == filepath.Join(x.root, filepath.FromSlash(rel)) {
		x.dirs[rel] = true
	}
	return host, nil
}

// clear removes what stands at target unless both it and the new entry are
// directories, and tells whether a directory remains.
func (x *extractor) clear(target string, isDir bool) (bool, error) {
	if x.writers.busy(target) {
		if err := x.writers.wait(); err != nil {
			return false, err
		}
	}
	fi, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.IsDir() && isDir {
		return true, nil
	}
	if err := x.writers.wait(); err != nil {
		return false, err
	}
	x.forget()
	if fi.IsDir() && x.opts.Outline != nil {
		x.opts.Outline.removeBelow(hostRel(x.root, target))
	}
	return false, os.RemoveAll(target)
}

// forget drops the directory cache after something was removed.
func (x *extractor) forget() {
	clear(x.dirs)
}

func (x *extractor) create(target string, h *tar.Header, r io.Reader) (bool, error) {
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return false, err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(h.Linkname, target); err != nil {
			return false, err
		}
	case tar.TypeLink:
		src, err := x.linkSource(h.Linkname)
		if err != nil {
			return false, err
		}
		if err := os.Link(src, target); err != nil {
			return false, err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(h.Mode & 0o7777)
		switch h.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		dev := unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
		if err := unix.Mknod(target, mode, int(dev)); err != nil {
			if !x.isRoot && errors.Is(err, unix.EPERM) {
				return false, nil // an unprivileged extraction cannot make devices
			}
			return false, err
		}
	default:
		return false, fmt.Errorf("unsupported tar entry type %q", h.Typeflag)
	}
	return true, nil
}

// hasSparse tells a PAX sparse-file entry, whose holes would be written
// out in full.
func hasSparse(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// ExtractLayer unpacks an image layer into root, as Extract with
// whiteouts applied, decompressing it whatever its compression.
func ExtractLayer(ctx context.Context, root string, l v1.Layer, opts ExtractOptions) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	stream, err := Decompress(rc)
	if err != nil {
		return err
	}
	opts.Whiteouts = true
	if err := Extract(ctx, root, stream, opts); err != nil {
		stream.Stop() // a failed or cancelled extraction needs no more of the layer
		return err
	}
	return stream.Finish()
}
