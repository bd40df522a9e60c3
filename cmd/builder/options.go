package main

import (
	"fmt"
	units "github.com/docker/go-units"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/push"
	"github.com/buildcrew/builder/pkg/registry"
)

// logger writes the library's diagnostics at the --verbosity level, in the
// --log-format.
func (f *buildFlags) logger(w io.Writer, terminal bool) (*slog.Logger, error) {
	levels := map[string]slog.Level{
		"panic": slog.LevelError + 4, "fatal": slog.LevelError + 4, "error": slog.LevelError,
		"warn": slog.LevelWarn, "warning": slog.LevelWarn, "info": slog.LevelInfo,
		"debug": slog.LevelDebug, "trace": slog.LevelDebug - 4,
	}
	level, ok := levels[strings.ToLower(f.verbosity)]
	if !ok {
		return nil, fmt.Errorf("--verbosity %q: use panic, fatal, error, warn, info, debug or trace", f.verbosity)
	}
	ho := &slog.HandlerOptions{Level: level}
	if !f.logTimestamp {
		ho.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		}
	}
	switch f.logFormat {
	case "", "color":
		if terminal {
			w = colourLevels{w}
		}
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text, color or json", f.logFormat)
}

// options turns the flags into build and push options. The context must
// already be a local directory (see fetchContext).
func (f *buildFlags) options() (build.Options, push.Options, error) {
	var bo build.Options
	var po push.Options
	// docker build's spellings: -t adds destinations, --file names the
	// Dockerfile.
	f.destinations = append(f.destinations, f.tags...)
	f.tags = nil
	if f.file != "" {
		if f.dockerfile != "" && f.dockerfile != f.file {
			return bo, po, fmt.Errorf("--file %s and --dockerfile %s: give one", f.file, f.dockerfile)
		}
		f.dockerfile = f.file
	}
	contextDir := strings.TrimPrefix(f.context, "dir://")
	if strings.Contains(contextDir, "://") {
		return bo, po, fmt.Errorf("--context %s: not fetched", f.context)
	}
	dockerfile, err := resolveDockerfile(f.dockerfile, contextDir)
	if err != nil {
		return bo, po, err
	}
	args, err := parseKeyValues("--build-arg", f.buildArgs, true)
	if err != nil {
		return bo, po, err
	}
	epoch, err := sourceDateEpoch(args)
	if err != nil {
		return bo, po, err
	}
	labels, err := parseKeyValues("--label", f.labels, false)
	if err != nil {
		return bo, po, err
	}
	annotations, err := parseKeyValues("--annotation", f.annotations, false)
	if err != nil {
		return bo, po, err
	}
	pullReg, pushReg, err := f.registries()
	if err != nil {
		return bo, po, err
	}
	if err := f.checkLayerFlags(); err != nil {
		return bo, po, err
	}
	level := f.compressionLevel
	if level == -1 {
		level = 0
	}
	bo = build.Options{
		ContextDir: contextDir, Dockerfile: dockerfile, DockerfileData: f.dockerfileData, BuildArgs: args,
		Labels: labels, Annotations: annotations, WorkDir: f.workDirectory(), Format: build.Format(f.imageFormat),
		Registry: pullReg, PullRetries: max(f.pullRetry, f.extractRetry), KeepWorkDir: f.keepWorkDir, NoOverlay: f.noOverlay, CompressionLevel: level, Zstd: f.compression == "zstd", Reproducible: f.reproducible,
	}
	if ps := strings.Split(f.platform, ","); len(ps) > 1 {
		bo.Platforms = ps
	} else {
		bo.Platform = f.platform
	}
	po = push.Options{
		Destinations: f.destinations, NoPush: f.noPush, Registry: pushReg, Retries: f.pushRetry,
		TarPath: f.tarPath, OCILayoutPath: f.ociLayoutPath,
		DigestFile: f.digestFile, IIDFile: f.iidFile, MetadataFile: f.metadataFile, ImageNameWithDigestFile: f.nameWithDigestFile,
		ImageNameTagWithDigestFile: f.nameTagWithDigestFile,
	}
	if err := f.applyTargets(&bo); err != nil {
		return bo, po, err
	}
	outputsPush, err := f.applyOutputs(&po)
	if err != nil {
		return bo, po, err
	}
	po.Destinations = f.destinations
	if len(f.outputs) > 0 && !outputsPush && len(f.destinations) == 0 {
		po.NoPush = true // buildx: the outputs are where the image goes
	}
	if !po.NoPush && len(f.destinations) == 0 {
		if !f.dockerFace && !f.check {
			return bo, po, fmt.Errorf("no --destination given: name where to push, or pass --no-push")
		}
		// builder build, as docker buildx build: it builds, and says
		// nothing was pushed.
		po.NoPush, f.nothingPushed = true, true
	}
	if bo.Cache, err = f.cacheStore(pushReg); err != nil {
		return bo, po, err
	}
	bo.CacheReadOnly, bo.BaseLayerDir, bo.CacheMountDir = f.noPushCache, f.cacheDir, f.cacheMountDir
	bo.CacheKeyIgnoreArgs, bo.ExportCacheMounts = f.cacheKeyIgnoreArgs, f.exportCacheMounts
	bo.CacheWriteOnly = f.noCache
	if f.exportCacheMounts && !f.cache {
		return bo, po, fmt.Errorf("--export-cache-mounts keeps them in the step cache: give --cache too")
	}
	bo.SourceDateEpoch, bo.RewriteTimestamp = epoch, f.rewriteTimestamp
	if f.rewriteTimestamp && epoch == nil {
		return bo, po, fmt.Errorf("--rewrite-timestamp needs SOURCE_DATE_EPOCH (a build arg or the environment)")
	}
	if bo.SSH, err = parseSSH(f.ssh); err != nil {
		return bo, po, err
	}
	if bo.Secrets, err = parseSecrets(f.secrets); err != nil {
		return bo, po, err
	}
	bo.Limits.Pids = f.pidsLimit
	if f.memory != "" {
		if bo.Limits.Memory, err = units.RAMInBytes(f.memory); err != nil || bo.Limits.Memory <= 0 {
			return bo, po, fmt.Errorf("--memory %q: want a size such as 512m or 2g", f.memory)
		}
	}
	if dir := dockerConfigDir(); dir != "" {
		bo.ExcludeFromContext = append(bo.ExcludeFromContext, dir)
	}
	for _, e := range f.allow {
		switch e {
		case "security.insecure":
			bo.AllowInsecure = true
		case "network.host":
			// RUN shares the host's network unless it asks for none.
		default:
			return bo, po, fmt.Errorf("--allow %q: the entitlements are security.insecure and network.host", e)
		}
	}
	// Check the destinations before spending a build on them.
	for _, d := range f.destinations {
		if _, err := pushReg.ParseReference(d); err != nil {
			return bo, po, fmt.Errorf("--destination: %w", err)
		}
	}
	return bo, po, nil
}

// workDirectory is --work-dir, or kaniko's name for it, --kaniko-dir.
func (f *buildFlags) workDirectory() string {
	if f.workDir != "" {
		return f.workDir
	}
	return f.kanikoDir
}

// registries makes the pull and push registry settings.
func (f *buildFlags) registries() (registry.Options, registry.Options, error) {
	pull := registry.Options{
		Insecure: f.insecurePull, InsecureRegistries: f.insecureRegistries,
		SkipTLSVerify: f.skipTLSVerifyPull, SkipTLSVerifyRegistries: f.skipTLSVerifyRegistries,
		UserAgent: "builder/" + version, NoFallback: f.noFallback,
	}
	mirrors := f.registryMirrors
	if len(mirrors) == 0 {
		if env := os.Getenv("KANIKO_REGISTRY_MIRROR"); env != "" {
			mirrors = strings.Split(env, ";")
		}
	}
	for _, m := range mirrors {
		if err := pull.AddMirror("docker.io", m); err != nil {
			return pull, pull, fmt.Errorf("--registry-mirror: %w", err)
		}
	}
	for _, value := range f.registryMaps {
		for _, pair := range strings.Split(value, ";") {
			if pair == "" {
				continue // kaniko lets an empty value through
			}
			reg, mirror, ok := strings.Cut(pair, "=")
			if !ok {
				return pull, pull, fmt.Errorf("--registry-map %q: want REGISTRY=MIRROR", pair)
			}
			if err := pull.AddMirror(reg, mirror); err != nil {
				return pull, pull, fmt.Errorf("--registry-map: %w", err)
			}
		}
	}
	var err error
	if pull.CAs, err = registryCAs(f.registryCerts); err != nil {
		return pull, pull, err
	}
	if pull.ClientCerts, err = clientCerts(f.registryClientCerts); err != nil {
		return pull, pull, err
	}
	if pull.Keychain, err = f.keychain(); err != nil {
		return pull, pull, err
	}
	push := pull
	push.Mirrors, push.NoFallback = nil, false
	push.Insecure, push.SkipTLSVerify = f.insecure, f.skipTLSVerify
	return pull, push, nil
}

// checkLayerFlags validates the flags about layers that have a fixed
// meaning here.
func (f *buildFlags) checkLayerFlags() error {
	// Whether the values go together (zstd needs the OCI format) is
	// checked once, by build.Options. -1 is the flag's own "default"
	// (build.Options says 0), so 0 itself is refused here.
	switch f.compression {
	case "gzip", "zstd":
	default:
		return fmt.Errorf("--compression %s: use gzip or zstd", f.compression)
	}
	if f.compressionLevel != -1 && (f.compressionLevel < 1 || f.compressionLevel > 9) {
		return fmt.Errorf("--compression-level %d: use 1 (fastest) to 9 (smallest)", f.compressionLevel)
	}
	switch f.snapshotMode {
	case "full", "redo", "time":
	default:
		return fmt.Errorf("--snapshot-mode %q: use full, redo or time", f.snapshotMode)
	}
	return nil
}

// resolveDockerfile finds --dockerfile: a relative path is tried against
// the working directory first, then against the context.
func resolveDockerfile(p, contextDir string) (string, error) {
	if p == "" {
		return filepath.Join(contextDir, "Dockerfile"), nil
	}
	if filepath.IsAbs(p) {
		return p, nil
	}
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	inContext := filepath.Join(contextDir, p)
	if _, err := os.Stat(inContext); err == nil {
		return inContext, nil
	}
	return "", fmt.Errorf("--dockerfile %s: not found in the working directory nor in the context %s", p, contextDir)
}

// parseKeyValues reads KEY=VALUE flags. With fromEnv, a bare KEY takes its
// value from the environment and is left out when that is unset.
func parseKeyValues(flag string, values []string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		if !ok {
			if !fromEnv {
				return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
			}
			env, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = env
		}
		out[k] = v
	}
	return out, nil
}

// cacheStore makes the step cache --cache asks for: a registry repository
// or, with oci:DIR, a local OCI layout.
func (f *buildFlags) cacheStore(reg registry.Options) (build.Cache, error) {
	if !f.cache {
		return nil, nil
	}
	if dir, ok := strings.CutPrefix(f.cacheRepo, "oci:"); ok {
		return &cache.Layout{Dir: dir, TTL: f.cacheTTL}, nil
	}
	repo := f.cacheRepo
	if repo == "" {
		if len(f.destinations) == 0 {
			return nil, fmt.Errorf("--cache: give --cache-repo (a repository or oci:DIR); there is no --destination to derive it from")
		}
		ref, err := reg.ParseReference(f.destinations[0])
		if err != nil {
			return nil, fmt.Errorf("--destination: %w", err)
		}
		repo = ref.Context().Name() + "/cache"
	}
	ref, err := reg.ParseReference(repo)
	if err != nil {
		return nil, fmt.Errorf("--cache-repo: %w", err)
	}
	if _, isTag := ref.(name.Tag); !isTag || strings.Contains(strings.TrimPrefix(repo, ref.Context().RegistryStr()), ":") {
		return nil, fmt.Errorf("--cache-repo %s: give a repository, without a tag or digest", repo)
	}
	return &cache.Registry{Repo: ref.Context(), Registry: reg, TTL: f.cacheTTL}, nil
}

// parseSecrets reads --secret values, BuildKit's syntax: id=ID with src=
// (or source=) a file, or env= a variable; a bare id=ID reads the variable
// ID. Errors name the secret, never its value.
func parseSecrets(values []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, v := range values {
		fields := map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || val == "" {
				return nil, fmt.Errorf("--secret %q: want id=ID,src=FILE or id=ID,env=VAR", v)
			}
			fields[k] = val
		}
		id := fields["id"]
		if id == "" {
			return nil, fmt.Errorf("--secret %q: no id=", v)
		}
		src := fields["src"]
		if src == "" {
			src = fields["source"]
		}
		switch {
		case src != "":
			data, err := os.ReadFile(src)
			if err != nil {
				return nil, fmt.Errorf("--secret id=%s: %w", id, err)
			}
			out[id] = data
		default:
			name := fields["env"]
			if name == "" {
				name = id
			}
			val, ok := os.LookupEnv(name)
			if !ok {
				return nil, fmt.Errorf("--secret id=%s: the environment variable %s is not set", id, name)
			}
			out[id] = []byte(val)
		}
	}
	return out, nil
}

// dockerConfigDir is where the registry credentials are read from:
// $DOCKER_CONFIG, or ~/.docker.
func dockerConfigDir() string {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".docker")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	return abs
}

// colourLevels colours the level of each text record written through it,
// as kaniko's colour format does on a terminal: slog's text handler
// quotes a value holding escape codes, so they go in after it.
type colourLevels struct{ w io.Writer }

var levelColours = strings.NewReplacer(
	"level=ERROR", "level=\x1b[31mERROR\x1b[0m", "level=WARN", "level=\x1b[33mWARN\x1b[0m",
	"level=INFO", "level=\x1b[36mINFO\x1b[0m", "level=DEBUG", "level=\x1b[90mDEBUG\x1b[0m")

func (c colourLevels) Write(b []byte) (int, error) {
	if _, err := io.WriteString(c.w, levelColours.Replace(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}
