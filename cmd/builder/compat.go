package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// What happens to a kaniko executor flag here.
const (
	supported = "supported"
	ignored   = "accepted, ignored with a warning"
	rejected  = "rejected with an error"
)

// kanikoFlag is one row of the compatibility table in docs/kaniko.md.
type kanikoFlag struct {
	name, status, note string
	kind               string // for ignored and rejected flags: bool, string, int, duration or list
}

// kanikoFlags is every flag of kaniko's executor (v1.23) and what this
// builder does with it. docs/kaniko.md is generated from it; a test keeps
// the two and the registered flags in step.
var kanikoFlags = []kanikoFlag{
	{name: "build-arg", status: supported, note: "a bare KEY takes its value from the environment"},
	{name: "cache", status: supported, note: "caches RUN, COPY, ADD and WORKDIR results by a key of their inputs"},
	{name: "cache-copy-layers", status: ignored, kind: "bool", note: "COPY and ADD layers are always cached (keyed by the sources' content and metadata)"},
	{name: "cache-dir", status: supported, note: "keeps pulled base image layers by digest; with chroot isolation also each layer unpacked once, which later builds mount as overlayfs lower layers (or, for a layer with directories only implied, stack by hard links) instead of unpacking"},
	{name: "cache-repo", status: supported, note: "a repository, or oci:DIR for a local OCI layout; default <first destination's repository>/cache"},
	{name: "cache-run-layers", status: ignored, kind: "bool", note: "RUN layers are always cached with --cache"},
	{name: "cache-ttl", status: supported, note: "default two weeks"},
	{name: "cleanup", status: supported, note: "with --isolation=none: empties / (but the ignored paths) after the build"},
	{name: "compressed-caching", status: ignored, kind: "bool", note: "cached layers are stored as built: compressed"},
	{name: "compression", status: supported, note: "gzip (on every core) or zstd (OCI format only)"},
	{name: "compression-level", status: supported, note: "1 to 9; for zstd mapped onto its four levels"},
	{name: "context", status: supported, note: "a directory, dir://, tar://FILE (gzip or not), tar://stdin, https:// archives, git://HOST/REPO#REF#COMMIT; s3://, gs://, az:// are rejected"},
	{name: "context-sub-path", status: supported},
	{name: "custom-platform", status: supported, note: "also spelled --customPlatform; takes a comma-separated list like `--platform` and then pushes one image index"},
	{name: "destination", status: supported, note: "repeatable; every tag gets the same digest"},
	{name: "digest-file", status: supported},
	{name: "dockerfile", status: supported, note: "relative paths: the working directory first, then the context"},
	{name: "force", status: supported, note: "lets --isolation=none run outside a container"},
	{name: "force-build-metadata", status: ignored, kind: "bool", note: "metadata-only steps always get history entries"},
	{name: "git", status: supported, note: "branch=NAME; single-branch and recurse-submodules are accepted and ignored"},
	{name: "ignore-path", status: supported},
	{name: "ignore-var-run", status: supported},
	{name: "image-download-retry", status: supported, note: "retries pulling image metadata and layers, waiting 1s, 2s, 4s ..."},
	{name: "image-fs-extract-retry", status: supported, note: "layers stream from the registry while they are unpacked: the larger of this and --image-download-retry applies to both"},
	{name: "image-name-tag-with-digest-file", status: supported},
	{name: "image-name-with-digest-file", status: supported},
	{name: "insecure", status: supported},
	{name: "insecure-pull", status: supported},
	{name: "insecure-registry", status: supported},
	{name: "kaniko-dir", status: supported, note: "the same as --work-dir"},
	{name: "label", status: supported},
	{name: "log-format", status: supported, note: "text, color (plain text here) or json"},
	{name: "log-timestamp", status: supported},
	{name: "materialize", status: ignored, kind: "bool", note: "the filesystem is always materialized"},
	{name: "no-push", status: supported},
	{name: "no-push-cache", status: supported, note: "reads the cache, writes nothing to it"},
	{name: "oci-layout-path", status: supported},
	{name: "preserve-context", status: ignored, kind: "bool", note: "the context is never changed"},
	{name: "push-ignore-immutable-tag-errors", status: ignored, kind: "bool", note: "a refused tag fails the push"},
	{name: "push-retry", status: supported},
	{name: "registry-certificate", status: supported, note: "REGISTRY=CA_FILE: a CA trusted for that registry, pulls and pushes"},
	{name: "registry-client-cert", status: supported, note: "REGISTRY=CERT_FILE,KEY_FILE: presented to that registry, pulls and pushes"},
	{name: "registry-map", status: supported, note: "also REGISTRY=MIRROR;REGISTRY=MIRROR in one value"},
	{name: "registry-mirror", status: supported, note: "for Docker Hub images; default from KANIKO_REGISTRY_MIRROR"},
	{name: "reproducible", status: supported, note: "new layers only: base layers keep their digests"},
	{name: "single-snapshot", status: ignored, kind: "bool", note: "every step gets its own layer"},
	{name: "skip-default-registry-fallback", status: supported},
	{name: "skip-push-permission-check", status: supported, note: "without it, every destination's registry is asked whether the credentials may push there while the bases are pulled, and no RUN command runs before it says yes"},
	{name: "skip-tls-verify", status: supported},
	{name: "skip-tls-verify-pull", status: supported},
	{name: "skip-tls-verify-registry", status: supported},
	{name: "skip-unused-stages", status: supported, note: "always on: stages the target does not need never run (BuildKit's behaviour)"},
	{name: "snapshot-mode", status: supported, note: "full, redo and time are accepted; files are never re-read to find changes: in chroot isolation each RUN runs on an overlayfs and its changes are what the upper directory holds; with --isolation=none or --no-overlay they are found from metadata (size, mode, owner, mtime, ctime, inode, xattrs)"},
	{name: "tar-path", status: supported, note: "also spelled --tarPath"},
	{name: "target", status: supported, note: "repeatable, as the kaniko fork's: every target is built, sharing stages, and the first is pushed to --destination; NAME=DEST[,DEST...] pushes another to its own destinations"},
	{name: "use-new-run", status: ignored, kind: "bool", note: "RUN already finds changes without re-reading files"},
	{name: "verbosity", status: supported},
	{name: "bucket", status: rejected, kind: "string", note: "cloud storage contexts are not supported: fetch the archive and pass tar://FILE"},
}

// registerIgnored registers the kaniko flags this builder accepts but does
// not act on, and those it rejects.
func (f *buildFlags) registerIgnored(cmd *cobra.Command) {
	fs := cmd.Flags()
	f.ignoredBool, f.ignoredString, f.ignoredInt = map[string]*bool{}, map[string]*string{}, map[string]*int{}
	f.ignoredDuration, f.ignoredList = map[string]*time.Duration{}, map[string]*[]string{}
	for _, k := range kanikoFlags {
		if k.status == supported {
			continue
		}
		usage := "kaniko compatibility, " + k.status + ": " + k.note
		switch k.kind {
		case "bool":
			f.ignoredBool[k.name] = fs.Bool(k.name, false, usage)
		case "string":
			f.ignoredString[k.name] = fs.String(k.name, "", usage)
		case "int":
			f.ignoredInt[k.name] = fs.Int(k.name, 0, usage)
		case "duration":
			f.ignoredDuration[k.name] = fs.Duration(k.name, 0, usage)
		case "list":
			f.ignoredList[k.name] = fs.StringArray(k.name, nil, usage)
		}
	}
}

// checkCompat warns about ignored kaniko flags that were given and fails
// on rejected ones.
func checkCompat(cmd *cobra.Command, warn io.Writer) error {
	for _, k := range kanikoFlags {
		if k.status == supported || !cmd.Flags().Changed(k.name) {
			continue
		}
		if k.status == rejected {
			return fmt.Errorf("--%s: %s", k.name, k.note)
		}
		fmt.Fprintf(warn, "WARNING: --%s is accepted for kaniko compatibility and ignored: %s\n", k.name, k.note)
	}
	return nil
}

// compatTable renders kanikoFlags as the Markdown table of docs/kaniko.md.
func compatTable() string {
	var b strings.Builder
	b.WriteString("| kaniko flag | here | notes |\n|---|---|---|\n")
	for _, k := range kanikoFlags {
		fmt.Fprintf(&b, "| `--%s` | %s | %s |\n", k.name, k.status, k.note)
	}
	return b.String()
}
