package main

import (
	"time"

	"github.com/spf13/cobra"
)

// buildFlags are kaniko's executor flags, with its names and meanings.
type buildFlags struct {
	context, contextSubPath, git       string
	dockerfile                         string
	destinations                       []string
	noPush                             bool
	tarPath, ociLayoutPath             string
	digestFile, nameWithDigestFile     string
	nameTagWithDigestFile              string
	buildArgs, labels, annotations     []string
	iidFile, metadataFile              string
	rewriteTimestamp                   bool
	skipPushCheck, dryRun, check       bool
	exportCacheMounts                  bool
	registryCerts, registryClientCerts []string
	dockerfileData                     []byte // -f -
	// dockerFace is set for "builder build", which behaves as docker
	// buildx build where kaniko's executor would refuse: no destination
	// builds without pushing.
	dockerFace, nothingPushed        bool
	quiet                            bool
	noCache, pull                    bool
	tags                             []string
	outputs                          []string
	credentialHelpers                []string
	file                             string
	targets                          []string
	extraPushes                      map[string][]string // an extra target's stage -> its destinations
	insecure, insecurePull           bool
	insecureRegistries               []string
	skipTLSVerify, skipTLSVerifyPull bool
	skipTLSVerifyRegistries          []string
	registryMirrors, registryMaps    []string
	noFallback                       bool
	pushRetry                        int
	imageFormat, platform, workDir   string
	kanikoDir                        string
	verbosity, logFormat, progress   string
	logTimestamp                     bool
	isolation                        string
	force, cleanup                   bool
	ignorePaths                      []string
	ignoreVarRun                     bool
	reproducible                     bool
	compression                      string
	compressionLevel                 int
	snapshotMode                     string
	skipUnusedStages                 bool
	cache, noPushCache               bool
	cacheRepo, cacheDir              string
	cacheMountDir                    string
	cacheKeyIgnoreArgs               []string
	cacheTTL                         time.Duration
	secrets                          []string
	ssh                              []string
	pullRetry, extractRetry          int
	keepWorkDir                      bool
	noOverlay                        bool
	allow                            []string
	memory                           string
	pidsLimit                        int64

	// Kept for kaniko's sake, read only to warn that they change nothing.
	ignoredBool     map[string]*bool
	ignoredString   map[string]*string
	ignoredInt      map[string]*int
	ignoredDuration map[string]*time.Duration
	ignoredList     map[string]*[]string
}

func (f *buildFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.context, "context", "c", ".", "the build context: a directory (or dir://DIR), tar://FILE.tar.gz, tar://stdin, https://HOST/FILE.tar.gz or git://HOST/REPO[#REF[#COMMIT]]")
	fs.StringVar(&f.contextSubPath, "context-sub-path", "", "a directory inside the context to use as the context")
	fs.StringVar(&f.git, "git", "", "for git contexts: branch=NAME, the branch to clone when the URL names none")
	fs.StringVarP(&f.dockerfile, "dockerfile", "f", "", "the Dockerfile (default <context>/Dockerfile); a relative path is tried against the working directory, then the context")
	fs.StringArrayVarP(&f.destinations, "destination", "d", nil, "an image reference to push to; repeat for more tags")
	fs.StringArrayVarP(&f.tags, "tag", "t", nil, "docker build's name for --destination")
	fs.StringArrayVar(&f.credentialHelpers, "credential-helpers", nil, "credential helper programs (docker-credential-NAME) to ask after config.json, repeatable or comma-separated: ecr, google, acr (each for its cloud's registries) or any NAME (every registry); \"\" for none (default: ecr, google and acr where their programs are on PATH)")
	fs.StringArrayVarP(&f.outputs, "output", "o", nil, "buildx's outputs, repeatable: type=registry,name=REF; type=oci|docker|tar,dest=FILE (- for stdout); type=local,dest=DIR (the image's files); a bare DIR is type=local")
	fs.StringVar(&f.file, "file", "", "docker build's name for --dockerfile")
	fs.StringVar(&f.metadataFile, "metadata-file", "", "write the build's result to this file as JSON, in buildx's format (containerimage.digest, containerimage.descriptor, image.name)")
	fs.BoolVar(&f.noPush, "no-push", false, "build (and write --tar-path, --oci-layout-path) without pushing")
	fs.StringVar(&f.tarPath, "tar-path", "", "write the image as a tarball for docker load, tagged with the destinations")
	fs.StringVar(&f.tarPath, "tarPath", "", "deprecated spelling of --tar-path")
	fs.StringVar(&f.ociLayoutPath, "oci-layout-path", "", "write the image into an OCI image layout directory")
	fs.StringVar(&f.digestFile, "digest-file", "", "write the image digest to this file")
	fs.StringVar(&f.nameWithDigestFile, "image-name-with-digest-file", "", "write repo@digest for every destination to this file")
	fs.StringVar(&f.nameTagWithDigestFile, "image-name-tag-with-digest-file", "", "write repo:tag@digest for every destination to this file")
	fs.StringArrayVar(&f.buildArgs, "build-arg", nil, "KEY=VALUE for an ARG; a bare KEY takes its value from the environment")
	fs.StringArrayVar(&f.labels, "label", nil, "KEY=VALUE label added to the image")
	fs.StringArrayVar(&f.annotations, "annotation", nil, "KEY=VALUE annotation added to the image's manifest (repeatable), as the kaniko fork's and buildx's")
	fs.StringVar(&f.progress, "progress", "auto", "progress output: auto (tty on a terminal, else plain), tty (drawn live, with byte bars), plain (BuildKit's plain text) or rawjson (one JSON event per line, see build.Event)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print no progress, only the pushed names (or the digest) and errors, as docker build -q")
	fs.BoolVar(&f.check, "check", false, "run BuildKit's Dockerfile checks and stop, as docker build --check: print every warning and exit 1 if there is one; nothing is built, written or pushed, and without --target every stage is checked")
	fs.BoolVar(&f.dryRun, "dryrun", false, "parse, resolve the base images and plan, print the stages and steps that would run, and stop: nothing is built, written or pushed (the kaniko fork's flag)")
	fs.StringArrayVar(&f.registryCerts, "registry-certificate", nil, "REGISTRY=CA_FILE: trust this CA (PEM) for that registry (host:port), for pulls and pushes; repeatable")
	fs.StringArrayVar(&f.registryClientCerts, "registry-client-cert", nil, "REGISTRY=CERT_FILE,KEY_FILE: present this client certificate to that registry (host:port); repeatable")
	fs.BoolVar(&f.skipPushCheck, "skip-push-permission-check", false, "do not ask the destinations' registries, before any RUN command runs, whether the credentials may push there")
	fs.BoolVar(&f.rewriteTimestamp, "rewrite-timestamp", false, "clamp every file time in the new layers to SOURCE_DATE_EPOCH, as buildx's rewrite-timestamp=true")
	fs.StringVar(&f.iidFile, "iidfile", "", "write the image ID (its config's digest) to this file, as docker build does")
	fs.StringArrayVar(&f.targets, "target", nil, "the stage to build (default: the last); repeat to build more in one run, sharing their stages: the first gets --destination, another is pushed only as NAME=DEST[,DEST...]")
	fs.BoolVar(&f.insecure, "insecure", false, "push to registries over plain HTTP")
	fs.BoolVar(&f.insecurePull, "insecure-pull", false, "pull base images over plain HTTP")
	fs.StringArrayVar(&f.insecureRegistries, "insecure-registry", nil, "a registry (host[:port]) to reach over plain HTTP; repeatable")
	fs.BoolVar(&f.skipTLSVerify, "skip-tls-verify", false, "push without verifying the registry's certificate")
	fs.BoolVar(&f.skipTLSVerifyPull, "skip-tls-verify-pull", false, "pull without verifying the registry's certificate")
	fs.StringArrayVar(&f.skipTLSVerifyRegistries, "skip-tls-verify-registry", nil, "a registry (host[:port]) whose certificate is not verified, for pulls and pushes; repeatable")
	fs.StringArrayVar(&f.registryMirrors, "registry-mirror", nil, "a mirror (host[:port][/path]) to pull Docker Hub images from first; repeatable, tried in order (default: $KANIKO_REGISTRY_MIRROR, ;-separated)")
	fs.StringArrayVar(&f.registryMaps, "registry-map", nil, "REGISTRY=MIRROR[;REGISTRY=MIRROR...]: pull REGISTRY's images from MIRROR first; repeatable")
	fs.BoolVar(&f.noFallback, "skip-default-registry-fallback", false, "fail a pull when every mirror fails, instead of trying the image's own registry")
	fs.IntVar(&f.pullRetry, "image-download-retry", 0, "how many more times to try a failed pull of a base image's metadata or layer")
	fs.IntVar(&f.extractRetry, "image-fs-extract-retry", 0, "how many more times to try unpacking a base image layer (the larger of this and --image-download-retry applies)")
	fs.IntVar(&f.pushRetry, "push-retry", 0, "how many more times to try a failed push, waiting 1s, 2s, 4s ...")
	fs.StringVar(&f.imageFormat, "image-format", "oci", "the image format: oci or docker")
	fs.StringVar(&f.platform, "platform", "", "the platforms to build for, os/arch[/variant], comma-separated; two or more make one image index (default: this machine's)")
	fs.StringVar(&f.platform, "custom-platform", "", "kaniko's name for --platform")
	fs.StringVar(&f.platform, "customPlatform", "", "deprecated spelling of --custom-platform")
	fs.StringVar(&f.workDir, "work-dir", "", "where to keep root filesystems and layers while building (default: the temp directory)")
	fs.StringVar(&f.kanikoDir, "kaniko-dir", "", "kaniko's name for --work-dir")
	fs.BoolVar(&f.keepWorkDir, "keep-work-dir", false, "leave the build's root filesystems and layers in the work directory")
	fs.BoolVar(&f.noOverlay, "no-overlay", false, "find what each RUN changed by walking the stage's root instead of running it on an overlayfs (slower; for filesystems overlayfs cannot use)")
	fs.StringVarP(&f.verbosity, "verbosity", "v", "info", "log level: panic, fatal, error, warn, info, debug or trace")
	fs.StringVar(&f.logFormat, "log-format", "color", "diagnostics format: color (text, its levels coloured on a terminal), text or json")
	fs.BoolVar(&f.logTimestamp, "log-timestamp", false, "put a timestamp on every diagnostic line")
	fs.StringVar(&f.isolation, "isolation", "", "how RUN is isolated: chroot (namespaces, pivoted into a stage directory; needs CAP_SYS_ADMIN) or none (kaniko's: build at / of the builder's own container); default none inside the builder's image, else chroot")
	fs.BoolVar(&f.force, "force", false, "allow --isolation=none outside a container, where it replaces this machine's files")
	fs.BoolVar(&f.cleanup, "cleanup", false, "with --isolation=none, empty the filesystem again after the build")
	fs.StringArrayVar(&f.ignorePaths, "ignore-path", nil, "with --isolation=none, a path never deleted, overwritten or snapshotted; repeatable")
	fs.BoolVar(&f.ignoreVarRun, "ignore-var-run", true, "with --isolation=none, leave /var/run out of the image")
	fs.BoolVar(&f.reproducible, "reproducible", false, "strip timestamps: the config's, the history's and the new layers' files' (set to 1970-01-01)")
	fs.StringVar(&f.compression, "compression", "gzip", "layer compression: gzip or zstd (OCI format only)")
	fs.IntVar(&f.compressionLevel, "compression-level", -1, "compression level, 1 (fastest) to 9 (smallest); -1 is the default")
	fs.StringVar(&f.snapshotMode, "snapshot-mode", "full", "kaniko's snapshot modes (full, redo, time) are accepted; files are never re-read to find changes (an overlay's upper directory, or file metadata)")
	fs.StringVar(&f.snapshotMode, "snapshotMode", "full", "deprecated spelling of --snapshot-mode")
	fs.BoolVar(&f.skipUnusedStages, "skip-unused-stages", true, "always on: stages the target does not need never run")
	fs.StringArrayVar(&f.ssh, "ssh", nil, "an SSH agent or keys for RUN --mount=type=ssh, as buildx takes them: default ($SSH_AUTH_SOCK), ID=SOCKET or ID=KEY[,KEY]; repeatable")
	fs.StringArrayVar(&f.secrets, "secret", nil, "a secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (a bare id=ID reads the variable ID); repeatable")
	fs.StringSliceVar(&f.allow, "allow", nil, "grant an entitlement, as buildx does: security.insecure lets RUN --security=insecure run with every capability and no seccomp filter (trusted Dockerfiles only)")
	fs.StringVar(&f.memory, "memory", "", "the most memory one RUN step may use, e.g. 512m or 2g, as docker run's --memory (chroot isolation; a cgroup per step)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "the most processes and threads one RUN step may have at once, as docker run's --pids-limit (chroot isolation; a cgroup per step)")
	fs.BoolVar(&f.cache, "cache", false, "reuse the results of steps whose inputs did not change, kept in --cache-repo")
	fs.BoolVar(&f.noCache, "no-cache", false, "run every step, reusing nothing; with --cache the results are still stored, as docker build --no-cache")
	fs.BoolVar(&f.pull, "pull", false, "docker build's flag: base images are always resolved from their registries here, so it changes nothing")
	fs.StringVar(&f.cacheRepo, "cache-repo", "", "where cached steps live: a repository, or oci:DIR for a local OCI layout (default <first destination's repository>/cache)")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "keep pulled base image layers in this directory, and (chroot isolation) each layer unpacked, for later builds to reuse")
	fs.StringArrayVar(&f.cacheKeyIgnoreArgs, "cache-key-ignore-arg", nil, "a build arg whose value stays out of every step's cache key (repeatable): steps that differ only in it reuse the cache")
	fs.BoolVar(&f.exportCacheMounts, "export-cache-mounts", false, "keep the contents of RUN --mount=type=cache in --cache-repo after the build, and restore them from there on a machine that has none (CI runners and Pods that start empty)")
	fs.StringVar(&f.cacheMountDir, "cache-mount-dir", "", "where RUN --mount=type=cache keeps its contents between builds (default: cache-mounts in --cache-dir when given, else builder-cache-mounts in --work-dir)")
	fs.DurationVar(&f.cacheTTL, "cache-ttl", 14*24*time.Hour, "how long cached steps stay valid")
	fs.BoolVar(&f.noPushCache, "no-push-cache", false, "read the cache but write nothing to it")
	f.registerIgnored(cmd)
	for _, name := range []string{"tarPath", "customPlatform", "snapshotMode", "kaniko-dir"} {
		fs.MarkHidden(name)
	}
}
