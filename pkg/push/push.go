// Package push publishes a built image: to registries under any number of
// tags, as a tarball that docker load and skopeo accept, as an OCI image
// layout, and as digest files for the pipeline that runs the build.
package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/buildcrew/builder/internal/atomicfile"
	"github.com/buildcrew/builder/pkg/registry"
)

// Options say where an image goes.
type Options struct {
	// Destinations are the image references to push to (and to tag the
	// tarball and layout with).
	Destinations []string
	// NoPush skips the registries; the files are still written.
	NoPush bool
	// Registry says how registries are reached.
	Registry registry.Options
	// TarPath, when set, receives a docker-archive tarball.
	TarPath string
	// OCILayoutPath, when set, receives an OCI image layout.
	OCILayoutPath string
	// OCIArchivePath, when set, receives an OCI archive: an OCI image
	// layout in a tar (buildx's type=oci).
	OCIArchivePath string
	// FilesystemDir, when set, receives the image's files, its layers
	// applied in order (buildx's type=local); an index's images go in a
	// directory each, named for the platform (linux_arm64).
	FilesystemDir string
	// FilesystemTarPath, when set, receives the same files as one tar
	// (buildx's type=tar).
	FilesystemTarPath string
	// Stdout is where a path of "-" writes (TarPath, OCIArchivePath,
	// FilesystemTarPath).
	Stdout io.Writer
	// DigestFile, when set, receives the image digest.
	DigestFile string
	// IIDFile, when set, receives the image ID: its config's digest, as
	// docker build --iidfile writes it.
	IIDFile string
	// MetadataFile, when set, receives the result as JSON in buildx's
	// --metadata-file format (see Metadata).
	MetadataFile string
	// ImageNameWithDigestFile, when set, receives "repo@digest" per destination.
	ImageNameWithDigestFile string
	// ImageNameTagWithDigestFile, when set, receives "repo:tag@digest" per
	// destination.
	ImageNameTagWithDigestFile string
	// Retries is how many more times a failed push is tried, waiting
	// RetryWait (1s when 0), then twice as long each time.
	Retries   int
	RetryWait time.Duration
	// Progress, when set, receives a line per output written.
	Progress io.Writer
	// Pushed, when set, is told how many bytes of the push to registries
	// are uploaded of how many, as they go (from one goroutine; a retry
	// starts again from zero).
	Pushed func(current, total int64)
}

// Artifact is what Publish writes: a v1.Image, or a v1.ImageIndex of a
// multi-platform build.
type Artifact interface {
	Digest() (v1.Hash, error)
	MediaType() (types.MediaType, error)
	Size() (int64, error)
	RawManifest() ([]byte, error)
}

// Publish writes img (an image or an index) everywhere opts says and
// returns "repo@digest" for every destination, in order, without
// repeats. Files are written whole or not at all; a registry gets its
// manifest only after all its blobs.
func Publish(ctx context.Context, img Artifact, opts Options) ([]string, error) {
	switch img.(type) {
	case v1.Image, v1.ImageIndex:
	default:
		return nil, fmt.Errorf("publishing a %T: want an image or an image index", img)
	}
	refs, err := parseRefs(opts)
	if err != nil {
		return nil, err
	}
	if !opts.NoPush && len(refs) == 0 && !opts.writesFiles() {
		return nil, errors.New("nowhere to put the image: no destination, tarball, OCI layout or filesystem output is given, and pushing is not turned off")
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	report := func(what string, f func() error) error {
		start := time.Now()
		if err := f(); err != nil {
			return err
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "%s %.1fs done\n", what, time.Since(start).Seconds())
		}
		return nil
	}
	if opts.TarPath != "" {
		if err := report("writing tarball "+opts.TarPath, func() error {
			return opts.writeFile(opts.TarPath, func(w io.Writer) error { return writeArchive(w, img, refs) })
		}); err != nil {
			return nil, fmt.Errorf("writing the tarball: %w", err)
		}
	}
	if opts.OCIArchivePath != "" {
		if err := report("writing OCI archive "+opts.OCIArchivePath, func() error {
			return opts.writeFile(opts.OCIArchivePath, func(w io.Writer) error { return writeOCIArchive(w, img, refs) })
		}); err != nil {
			return nil, fmt.Errorf("writing the OCI archive: %w", err)
		}
	}
	if opts.FilesystemTarPath != "" {
		if err := report("writing the image's files to "+opts.FilesystemTarPath, func() error {
			return opts.writeFile(opts.FilesystemTarPath, func(w io.Writer) error { return writeFilesystemTar(w, img) })
		}); err != nil {
			return nil, fmt.Errorf("writing the image's files: %w", err)
		}
	}
	if opts.FilesystemDir != "" {
		if err := report("writing the image's files to "+opts.FilesystemDir, func() error { return WriteFilesystem(ctx, opts.FilesystemDir, img) }); err != nil {
			return nil, err
		}
	}
	if opts.OCILayoutPath != "" {
		if err := report("writing OCI layout "+opts.OCILayoutPath, func() error { return WriteLayout(opts.OCILayoutPath, img, refs) }); err != nil {
			return nil, err
		}
	}
	if !opts.NoPush && len(refs) > 0 {
		push := func() error { return ToRegistries(ctx, img, refs, opts.Registry, opts.Pushed) }
		notify := func(attempt int, next time.Duration, err error) {
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "push failed, retrying in %s (%d of %d): %v\n", next, attempt, opts.Retries, err)
			}
		}
		if err := report("pushing "+refList(refs), func() error {
			return registry.Retry(ctx, opts.Retries, opts.RetryWait, notify, push)
		}); err != nil {
			return nil, err
		}
	}
	var names []string
	seen := map[string]bool{}
	for _, r := range refs {
		n := r.Context().Name() + "@" + digest.String()
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if opts.DigestFile != "" {
		if err := atomicfile.Write(opts.DigestFile, []byte(digest.String())); err != nil {
			return nil, fmt.Errorf("writing the digest file: %w", err)
		}
	}
	if opts.MetadataFile != "" {
		if err := writeMetadata(opts.MetadataFile, img, refs); err != nil {
			return nil, fmt.Errorf("writing the metadata file: %w", err)
		}
	}
	if opts.IIDFile != "" {
		// An image's ID is its config's digest; an index has none, and
		// buildx writes the index's digest.
		id := digest
		if im, ok := img.(v1.Image); ok {
			if id, err = im.ConfigName(); err != nil {
				return nil, err
			}
		}
		if err := atomicfile.Write(opts.IIDFile, []byte(id.String())); err != nil {
			return nil, fmt.Errorf("writing the image ID file: %w", err)
		}
	}
	if opts.ImageNameWithDigestFile != "" {
		var data []byte
		for _, n := range names {
			data = append(data, n+"\n"...)
		}
		if err := atomicfile.Write(opts.ImageNameWithDigestFile, data); err != nil {
			return nil, fmt.Errorf("writing the image name file: %w", err)
		}
	}
	if opts.ImageNameTagWithDigestFile != "" {
		var data []byte
		for _, r := range refs {
			data = append(data, r.Name()+"@"+digest.String()+"\n"...)
		}
		if err := atomicfile.Write(opts.ImageNameTagWithDigestFile, data); err != nil {
			return nil, fmt.Errorf("writing the image name and tag file: %w", err)
		}
	}
	return names, nil
}

// writesFiles tells whether the image goes to any file or directory.
func (opts Options) writesFiles() bool {
	return opts.TarPath != "" || opts.OCILayoutPath != "" || opts.OCIArchivePath != "" ||
		opts.FilesystemDir != "" || opts.FilesystemTarPath != ""
}

// writeFile writes p whole or not at all, or to Stdout when p is "-".
func (opts Options) writeFile(p string, write func(w io.Writer) error) error {
	if p != "-" {
		return atomicfile.WriteFunc(p, 0o644, write)
	}
	if opts.Stdout == nil {
		return errors.New("nowhere to write -: no standard output is given")
	}
	return write(opts.Stdout)
}

func parseRefs(opts Options) ([]name.Reference, error) {
	var refs []name.Reference
	for _, d := range opts.Destinations {
		r, err := opts.Registry.ParseReference(d)
		if err != nil {
			return nil, fmt.Errorf("destination: %w", err)
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// ToRegistries pushes img to every reference. Blobs a registry already has
// are not uploaded again, blobs are shared between tags of one
// repository, and each manifest goes up after its blobs. pushed, when
// not nil, is told of the bytes uploaded as they go.
func ToRegistries(ctx context.Context, img remote.Taggable, refs []name.Reference, reg registry.Options, pushed func(current, total int64)) error {
	todo := make(map[name.Reference]remote.Taggable, len(refs))
	for _, r := range refs {
		todo[r] = img
	}
	ropts := reg.Remote(ctx, nil)
	done := make(chan struct{})
	if pushed != nil {
		updates := make(chan v1.Update, 16)
		go func() {
			defer close(done)
			for u := range updates { // closed by the write
				if u.Error == nil {
					pushed(u.Complete, u.Total)
				}
			}
		}()
		ropts = append(ropts, remote.WithProgress(updates))
	} else {
		close(done)
	}
	if err := remote.MultiWrite(todo, ropts...); err != nil {
		return fmt.Errorf("pushing to %s: %w", refList(refs), err)
	}
	<-done // every update told before the push is said to be over
	return nil
}

func refList(refs []name.Reference) string {
	s := ""
	for i, r := range refs {
		if i > 0 {
			s += ", "
		}
		s += r.String()
	}
	return s
}

// CheckDestinations asks each destination's registry whether the
// credentials may push there, before anything is built; nothing with
// NoPush.
func CheckDestinations(opts Options) error {
	if opts.NoPush {
		return nil
	}
	refs, err := parseRefs(opts)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range refs {
		repo := r.Context().String()
		if seen[repo] {
			continue
		}
		seen[repo] = true
		if err := opts.Registry.CheckPush(r); err != nil {
			return fmt.Errorf("cannot push to %s: %w", repo, err)
		}
	}
	return nil
}
