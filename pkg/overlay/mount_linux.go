// Package overlay gives a RUN step an overlayfs over its stage's root, so
// that what the step changed is exactly what the upper directory holds:
// finding the changes (as layers.Entry, as package snapshot gives them)
// costs O(changes), not a walk of the whole root.
// Afterwards the upper directory is merged into the root, which stays an
// ordinary directory for every other instruction.
package overlay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Overlay is one mounted overlay: Merged shows the lower layers with
// the changes, which land in Upper.
type Overlay struct {
	Upper, Merged string
	scratch, work string
	lowers        string // the lowerdir option
	mounted       bool
}

// Options are tried in order. Copy-up must copy whole files and whole
// directories (no metacopy, no redirects, no index), so that the upper
// directory alone describes every change; volatile skips the fsync of each
// copied-up file, which only a crash could need, and the build would not
// survive one anyway.
var mountOptions = []string{
	"index=off,redirect_dir=off,metacopy=off,xino=off,volatile",
	"index=off,redirect_dir=off,metacopy=off",
}

// Mount mounts an overlay of lower in scratch, an empty directory that
// gets the upper, work and merged directories and belongs to the overlay
// from then on (Remove deletes it). Scratch should be on lower's
// filesystem: Merge renames files from one to the other.
func Mount(lower, scratch string) (*Overlay, error) {
	return MountLayers([]string{lower}, scratch, "")
}

// MountLayers mounts an overlay of the directories lowers, the top one
// first, in scratch as Mount does. Its upper directory starts as a clone
// of upperFrom (an upper directory over the same lowers, see CloneUpper),
// or empty with the top lower directory's metadata when upperFrom is "".
func MountLayers(lowers []string, scratch, upperFrom string) (*Overlay, error) {
	o := &Overlay{
		Upper:   filepath.Join(scratch, "upper"),
		Merged:  filepath.Join(scratch, "merged"),
		scratch: scratch,
		work:    filepath.Join(scratch, "work"),
		lowers:  strings.Join(lowers, ":"),
	}
	var err error
	if upperFrom != "" {
		err = CloneUpper(context.Background(), upperFrom, o.Upper)
	} else if err = os.Mkdir(o.Upper, 0o755); err == nil {
		// The upper root's metadata becomes the merged root's: give it
		// the lower root's.
		err = copyDirMetadata(lowers[0], o.Upper)
	}
	if err == nil {
		err = os.Mkdir(o.Merged, 0o755)
	}
	if err == nil {
		err = o.mount()
	}
	if err != nil {
		o.Remove()
		return nil, err
	}
	return o, nil
}

// Fits tells whether MountLayers can mount lowers in scratch: the
// options of a mount must fit in one page.
func Fits(lowers []string, scratch string) bool {
	n := len("lowerdir=,upperdir=,workdir=,") + len(mountOptions[0]) + 2*len(scratch) + len("/upper/work")
	for _, l := range lowers {
		n += len(l) + 1
		if strings.ContainsAny(l, ",:") {
			return false // the option's separators
		}
	}
	return n < os.Getpagesize()
}

// Remount mounts the overlay again after Unmount, with what Upper holds
// now.
func (o *Overlay) Remount() error {
	if o.mounted {
		return nil
	}
	return o.mount()
}

// mount mounts the overlay on a work directory of its own: one that a
// volatile overlay used cannot be used again.
func (o *Overlay) mount() error {
	if err := os.RemoveAll(o.work); err != nil {
		return err
	}
	if err := os.Mkdir(o.work, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, extra := range mountOptions {
		data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,%s", o.lowers, o.Upper, o.work, extra)
		err := unix.Mount("overlay", o.Merged, "overlay", 0, data)
		if err == nil {
			o.mounted = true
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", extra, err))
	}
	return fmt.Errorf("mounting an overlay over %s: %w", o.lowers, errors.Join(errs...))
}

// Unmount takes the overlay away; Upper keeps the changes.
func (o *Overlay) Unmount() error {
	if !o.mounted {
		return nil
	}
	if err := unix.Unmount(o.Merged, 0); err != nil {
		// Something still holds it: detach it now, it goes when released.
		if derr := unix.Unmount(o.Merged, unix.MNT_DETACH); derr != nil {
			return fmt.Errorf("unmounting the overlay at %s: %w", o.Merged, err)
		}
	}
	o.mounted = false
	return nil
}

// Remove unmounts the overlay if needed and deletes the scratch
// directory, upper directory included.
func (o *Overlay) Remove() error {
	if err := o.Unmount(); err != nil {
		return err
	}
	return os.RemoveAll(o.scratch)
}

// Supported tells whether this process can mount an overlay with upper
// directories under dir, by trying it once.
func Supported(dir string) error {
	scratch, err := os.MkdirTemp(dir, "overlay-probe-")
	if err != nil {
		return err
	}
	lower := scratch + "-lower"
	if err := os.Mkdir(lower, 0o755); err != nil {
		os.Remove(scratch)
		return err
	}
	defer os.Remove(lower)
	o, err := Mount(lower, scratch)
	if err != nil {
		return err
	}
	return o.Remove()
}
