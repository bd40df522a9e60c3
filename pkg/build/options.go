package build

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/buildcrew/builder/pkg/registry"
)

// Format is the image format of the result.
type Format string

const (
	OCI    Format = "oci"    // OCI image manifest and config (the default)
	Docker Format = "docker" // Docker image manifest v2 schema 2
)

// Runner runs one RUN command in a root filesystem: isolation.Chroot (the
// default), or isolation.None, directly in the builder's own container.
type Runner interface {
	Run(ctx context.Context, spec *isolation.Spec) error
}

var _ Runner = (*isolation.Chroot)(nil)

// Options describe one build.
type Options struct {
	// ContextDir is the build context: the directory COPY and ADD read.
	ContextDir string
	// Dockerfile is the Dockerfile's path; the default is ContextDir/Dockerfile.
	Dockerfile string
	// DockerfileData, when set, is the Dockerfile itself (read from
	// stdin, say); Dockerfile then only names it in messages.
	DockerfileData []byte
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	// Target is the stage to build; the default is the last one.
	Target string
	// ExtraTargets are more stages built beside Target, sharing the
	// stages they have in common; their images come in Result.Extra.
	ExtraTargets []string
	// Labels are added to the result's config.
	Labels map[string]string
	// Annotations are added to the result's manifest.
	Annotations map[string]string
	// Platform is "os/arch[/variant]" of the result; the default is this
	// machine's.
	Platform string
	// Platforms, two or more, build the image once for each and make the
	// result an image index of them (see Result.Index); one is the same
	// as Platform. Set Platform or Platforms, not both.
	Platforms []string
	// WorkDir is where the build keeps root filesystems and layers, in a
	// directory of its own; the default is the system's temp directory.
	WorkDir string
	// KeepWorkDir leaves the build's directory (root filesystems, layers)
	// in WorkDir after the build, failed or not, to look at.
	KeepWorkDir bool
	// Format is the result's image format; the default is OCI.
	Format Format
	// CompressionLevel is the level for new layers, 1 (fastest) to 9
	// (smallest); 0 means the default.
	CompressionLevel int
	// Zstd compresses new layers with zstd instead of gzip (OCI format only).
	Zstd bool
	// Reproducible strips timestamps: the config's, the history's and
	// every file's in the new layers, as kaniko's --reproducible does.
	Reproducible bool
	// SourceDateEpoch, when set (the SOURCE_DATE_EPOCH build arg, as in
	// BuildKit), is the time of the config and of every history entry.
	SourceDateEpoch *time.Time
	// RewriteTimestamp, with SourceDateEpoch, clamps every file time in the
	// new layers to it, as BuildKit's rewrite-timestamp does: two builds of
	// one commit give the same digest.
	RewriteTimestamp bool
	// Secrets are the values RUN --mount=type=secret,id=ID can use, by ID.
	// They reach the step's files or environment only: never a layer, the
	// config, the history or a cache key.
	Secrets map[string][]byte
	// Cache, when set, keeps each step's result by a key of its inputs and
	// reuses it instead of running the step again.
	Cache Cache
	// CacheKeyIgnoreArgs names build args whose values stay out of every
	// step's cache key: a step that differs only in one of them is a hit
	// (e.g. a version stamp that should not rebuild everything).
	CacheKeyIgnoreArgs []string
	// CacheWriteOnly runs every step and stores the results, reading
	// nothing from the cache (docker build --no-cache with a cache to
	// export).
	CacheWriteOnly bool
	// CacheReadOnly reads the cache but stores nothing new.
	CacheReadOnly bool
	// BaseLayerDir, when set, keeps the layers of pulled images by digest
	// so later builds do not download them again, and (RUN on overlays)
	// each layer unpacked alone by diff ID, so no build unpacks it again,
	// for any image that has it: stage roots are stacked from them by hard
	// links (see overlay.Stack). cache.LayerDir owns its layout.
	BaseLayerDir string
	// ExportCacheMounts stores the contents of every cache mount the build
	// used in Cache after the build, and restores a cache mount from there
	// on a machine that has none, before the first step that uses it: CI
	// runners and Pods that start empty keep their caches. A failure either
	// way is a warning.
	ExportCacheMounts bool
	// SSH gives RUN --mount=type=ssh,id=ID its agent, by ID ("default"
	// when the mount names none): one path that is a socket is an agent's
	// (e.g. $SSH_AUTH_SOCK); other paths are private keys, served by an
	// agent of the builder's. Keys never reach a layer or a cache key.
	SSH map[string][]string
	// CacheMountDir keeps the contents of RUN --mount=type=cache between
	// builds, one directory per cache id; builds sharing it share the
	// caches, as sharing= says. Default: "cache-mounts" in BaseLayerDir
	// when set, else in WorkDir, so that builds on one machine share it.
	CacheMountDir string
	// PullRetries is how many more times a failed pull of an image's
	// metadata or a layer is tried, waiting PullRetryWait (1s when 0), then
	// twice as long each time.
	PullRetries   int
	PullRetryWait time.Duration
	// Registry says how base images are pulled.
	Registry registry.Options
	// LayerDone, when set, is called on the build's goroutine with each
	// layer of the result as soon as it is written (the target stage's and
	// those of the stages it is built FROM), e.g. to start uploading it
	// while the next steps run, with the context the stage builds with
	// (cancelled when a stage fails). It must return at once.
	LayerDone func(context.Context, v1.Layer)
	// BeforeRun, when set, is called before each RUN command, once its
	// root is made, and an error from it fails the step before the
	// command runs. It lets a caller ask something slow while the bases
	// are pulled and unpacked rather than before the build, and still
	// stop the build before any command runs: the CLI asks the
	// destinations whether it may push. It is called for every RUN, so
	// it should remember its answer.
	BeforeRun func(context.Context) error
	// NoOverlay finds what a RUN changed by walking the stage's whole root
	// before and after it, even where the step could run on an overlayfs
	// whose upper directory holds exactly its changes (the default when
	// running as root with private roots).
	NoOverlay bool
	// ExcludeFromContext lists absolute paths that are left out of the
	// context, as if .dockerignore named them last, with a warning when
	// they are inside it: the registry credentials' directory
	// (DOCKER_CONFIG) belongs here, so `COPY . /app` cannot push them.
	ExcludeFromContext []string
	// Limits bound each RUN step's processes and memory (chroot
	// isolation only: with Root set, the container's own limits apply).
	Limits isolation.Limits
	// AllowInsecure lets RUN --security=insecure steps keep every
	// capability, with no seccomp filter, device nodes and a writable
	// /proc/sys: BuildKit's entitlement security.insecure. Without it such
	// a step fails the build before anything runs.
	AllowInsecure bool
	// Runner runs RUN commands; the default is chroot isolation, or
	// isolation.None when Root is set.
	Runner Runner
	// Root, when set, is the one directory every stage is built in, in
	// turn, instead of a private directory per stage: kaniko's mode, where
	// the builder runs in a container and Root is "/". Before a stage's base
	// is unpacked there, everything in Root but Ignore is deleted.
	Root string
	// Ignore lists absolute paths in Root that the build never deletes,
	// unpacks over or records in a layer, with everything beneath them.
	// The work directory and the context are always added.
	Ignore []string
	// Cleanup empties Root again (but Ignore) when the build ends.
	Cleanup bool
	// Progress, when set, receives BuildKit-style plain progress: numbered
	// steps, their output, DONE or ERROR, and the build's warnings.
	Progress io.Writer
	// Events, when set, receives the same progress as typed events, one
	// call at a time, in order (see Event).
	Events func(Event)
	// Logger, when set, receives diagnostics, and the build's warnings
	// when there is no Progress; the library is silent otherwise.
	Logger *slog.Logger
}

func (o *Options) normalize() error {
	if o.ContextDir == "" {
		return fmt.Errorf("no build context given")
	}
	abs, err := filepath.Abs(o.ContextDir)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("build context %s is not a directory", o.ContextDir)
	}
	o.ContextDir = abs
	if o.Dockerfile == "" {
		o.Dockerfile = filepath.Join(abs, "Dockerfile")
	}
	if err := o.normalizePlatforms(); err != nil {
		return err
	}
	if len(o.ExtraTargets) > 0 && len(o.Platforms) > 1 {
		return fmt.Errorf("more than one target and more than one platform in one build are not supported: build the targets one at a time")
	}
	if o.CompressionLevel < 0 || o.CompressionLevel > 9 {
		return fmt.Errorf("compression level %d: use 1 (fastest) to 9 (smallest)", o.CompressionLevel)
	}
	if o.Zstd && o.Format == Docker {
		return fmt.Errorf("zstd layers need the OCI image format, not docker")
	}
	switch o.Format {
	case "":
		o.Format = OCI
	case OCI, Docker:
	default:
		return fmt.Errorf("unknown image format %q: use oci or docker", o.Format)
	}
	if o.Root != "" {
		root, err := filepath.Abs(o.Root)
		if err != nil {
			return err
		}
		o.Root = root
	}
	if o.WorkDir == "" {
		o.WorkDir = os.TempDir()
	}
	if o.CacheReadOnly && o.CacheWriteOnly {
		return fmt.Errorf("the cache can be read only or written only, not both")
	}
	if o.ExportCacheMounts && o.Cache == nil {
		return fmt.Errorf("exporting cache mounts needs a step cache to keep them in")
	}
	if o.CacheMountDir == "" {
		o.CacheMountDir = filepath.Join(o.WorkDir, "builder-cache-mounts")
		if o.BaseLayerDir != "" {
			o.CacheMountDir = filepath.Join(o.BaseLayerDir, "cache-mounts")
		}
	}
	if o.Root != "" && (o.Limits != isolation.Limits{}) {
		return fmt.Errorf("limits on RUN steps need chroot isolation: a build at %s runs in its container's limits", o.Root)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// normalizePlatforms checks Platform and Platforms and leaves Platforms
// set only for more than one platform.
func (o *Options) normalizePlatforms() error {
	if len(o.Platforms) > 0 && o.Platform != "" {
		return fmt.Errorf("platform %s and platforms %v: give one or the other", o.Platform, o.Platforms)
	}
	seen := map[string]bool{}
	for _, s := range o.Platforms {
		p, err := ParsePlatform(s)
		if err != nil {
			return err
		}
		if seen[p.String()] {
			return fmt.Errorf("platform %s is asked for twice", p)
		}
		seen[p.String()] = true
	}
	if len(o.Platforms) == 1 {
		o.Platform, o.Platforms = o.Platforms[0], nil
	}
	return nil
}

// ParsePlatform reads "os/arch[/variant]"; "" means this machine's.
func ParsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		if p.Architecture == "arm" {
			p.Variant = "v7"
		}
		return p, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}
