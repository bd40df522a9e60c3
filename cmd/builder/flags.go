package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/push"
	"github.com/buildcrew/builder/pkg/registry"
)

// buildFlags are kaniko's executor flags, with its names and meanings.
type buildFlags struct {
	context, dockerfile              string
	destinations                     []string
	noPush                           bool
	tarPath, ociLayoutPath           string
	digestFile, nameWithDigestFile   string
	buildArgs, labels                []string
	target                           string
	insecure, insecurePull           bool
	insecureRegistries               []string
	skipTLSVerify, skipTLSVerifyPull bool
	imageFormat, platform, workDir   string
	verbosity                        string
}

func (f *buildFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.context, "context", "c", ".", "the build context: a directory, with or without dir://")
	fs.StringVarP(&f.dockerfile, "dockerfile", "f", "", "the Dockerfile (default <context>/Dockerfile); a relative path is tried against the working directory, then the context")
	fs.StringArrayVarP(&f.destinations, "destination", "d", nil, "an image reference to push to; repeat for more tags")
	fs.BoolVar(&f.noPush, "no-push", false, "build (and write --tar-path, --oci-layout-path) without pushing")
	fs.StringVar(&f.tarPath, "tar-path", "", "write the image as a tarball for docker load, tagged with the destinations")
	fs.StringVar(&f.ociLayoutPath, "oci-layout-path", "", "write the image into an OCI image layout directory")
	fs.StringVar(&f.digestFile, "digest-file", "", "write the image digest to this file")
	fs.StringVar(&f.nameWithDigestFile, "image-name-with-digest-file", "", "write repo@digest for every destination to this file")
	fs.StringArrayVar(&f.buildArgs, "build-arg", nil, "KEY=VALUE for an ARG; a bare KEY takes its value from the environment")
	fs.StringArrayVar(&f.labels, "label", nil, "KEY=VALUE label added to the image")
	fs.StringVar(&f.target, "target", "", "the stage to build (default: the last)")
	fs.BoolVar(&f.insecure, "insecure", false, "push to registries over plain HTTP")
	fs.BoolVar(&f.insecurePull, "insecure-pull", false, "pull base images over plain HTTP")
	fs.StringArrayVar(&f.insecureRegistries, "insecure-registry", nil, "a registry (host[:port]) to reach over plain HTTP; repeatable")
	fs.BoolVar(&f.skipTLSVerify, "skip-tls-verify", false, "push without verifying the registry's certificate")
	fs.BoolVar(&f.skipTLSVerifyPull, "skip-tls-verify-pull", false, "pull without verifying the registry's certificate")
	fs.StringVar(&f.imageFormat, "image-format", "oci", "the image format: oci or docker")
	fs.StringVar(&f.platform, "custom-platform", "", "the platform to build for, os/arch[/variant] (default: this machine's)")
	fs.StringVar(&f.workDir, "work-dir", "", "where to keep root filesystems and layers while building (default: the temp directory)")
	fs.StringVarP(&f.verbosity, "verbosity", "v", "info", "log level: panic, fatal, error, warn, info, debug or trace")
}

// logger writes the library's diagnostics at the --verbosity level.
func (f *buildFlags) logger(w io.Writer) (*slog.Logger, error) {
	levels := map[string]slog.Level{
		"panic": slog.LevelError + 4, "fatal": slog.LevelError + 4, "error": slog.LevelError,
		"warn": slog.LevelWarn, "warning": slog.LevelWarn, "info": slog.LevelInfo,
		"debug": slog.LevelDebug, "trace": slog.LevelDebug - 4,
	}
	level, ok := levels[strings.ToLower(f.verbosity)]
	if !ok {
		return nil, fmt.Errorf("--verbosity %q: use panic, fatal, error, warn, info, debug or trace", f.verbosity)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// options turns the flags into build and push options.
func (f *buildFlags) options() (build.Options, push.Options, error) {
	contextDir := strings.TrimPrefix(f.context, "dir://")
	if strings.Contains(contextDir, "://") {
		return build.Options{}, push.Options{}, fmt.Errorf("--context %s: only directories are supported", f.context)
	}
	dockerfile, err := resolveDockerfile(f.dockerfile, contextDir)
	if err != nil {
		return build.Options{}, push.Options{}, err
	}
	args, err := parseKeyValues("--build-arg", f.buildArgs, true)
	if err != nil {
		return build.Options{}, push.Options{}, err
	}
	labels, err := parseKeyValues("--label", f.labels, false)
	if err != nil {
		return build.Options{}, push.Options{}, err
	}
	pullReg := registry.Options{
		Insecure: f.insecurePull, InsecureRegistries: f.insecureRegistries,
		SkipTLSVerify: f.skipTLSVerifyPull, UserAgent: "builder/" + version,
	}
	pushReg := pullReg
	pushReg.Insecure, pushReg.SkipTLSVerify = f.insecure, f.skipTLSVerify
	bo := build.Options{
		ContextDir: contextDir, Dockerfile: dockerfile, BuildArgs: args, Target: f.target,
		Labels: labels, Platform: f.platform, WorkDir: f.workDir, Format: build.Format(f.imageFormat),
		Registry: pullReg,
	}
	po := push.Options{
		Destinations: f.destinations, NoPush: f.noPush, Registry: pushReg,
		TarPath: f.tarPath, OCILayoutPath: f.ociLayoutPath,
		DigestFile: f.digestFile, ImageNameWithDigestFile: f.nameWithDigestFile,
	}
	if !f.noPush && len(f.destinations) == 0 {
		return bo, po, fmt.Errorf("no --destination given: name where to push, or pass --no-push")
	}
	// Check the destinations before spending a build on them.
	for _, d := range f.destinations {
		if _, err := pushReg.ParseReference(d); err != nil {
			return bo, po, fmt.Errorf("--destination: %w", err)
		}
	}
	return bo, po, nil
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
