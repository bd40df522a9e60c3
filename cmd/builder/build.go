package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/buildcontext"
	"github.com/buildcrew/builder/pkg/push"
)

// runBuild builds, then publishes, and prints repo@digest per destination
// on stdout. Progress goes to stderr.
func runBuild(cmd *cobra.Command, f *buildFlags) error {
	stderr := cmd.ErrOrStderr()
	if err := checkCompat(cmd, stderr); err != nil {
		return err
	}
	f.defaultWorkDir(realHost)
	if f.dockerfile == "-" || f.file == "-" {
		// docker build -f -: the Dockerfile comes from stdin.
		if f.context == "tar://stdin" {
			return errors.New("stdin holds either the Dockerfile (-f -) or the context (-), not both")
		}
		data, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		f.dockerfileData, f.dockerfile, f.file = data, "", ""
	}
	cleanup, err := f.fetchContext(cmd)
	if err != nil {
		return err
	}
	defer cleanup()
	bo, po, err := f.options()
	if err != nil {
		return err
	}
	if err := f.setIsolation(&bo, realHost, stderr); err != nil {
		return err
	}
	po.Stdout = cmd.OutOrStdout()
	logOut, endProgress, err := f.setProgress(&bo, &po, stderr)
	if err != nil {
		return err
	}
	defer endProgress()
	if bo.Logger, err = f.logger(logOut, isTerminal(stderr)); err != nil {
		return err
	}
	if f.check {
		return printChecks(cmd.Context(), bo, cmd.OutOrStdout())
	}
	if f.dryRun {
		return printPlan(cmd.Context(), bo, cmd.OutOrStdout())
	}
	// Fail before any command runs, not after the build: kaniko asks
	// every destination too, before building.
	var check *pushCheck
	if !f.skipPushCheck {
		check = startPushCheck(po, f.extraPushes)
		bo.BeforeRun = check.wait
	}
	// Layers start going up as they are written; Publish sends the rest.
	early, err := push.NewUploader(po)
	if err != nil {
		return err
	}
	bo.LayerDone = early.Add
	res, err := build.Build(cmd.Context(), bo)
	if cerr := check.refusal(err); cerr != nil {
		if err == nil {
			res.Close()
		}
		early.Stop()
		return cerr
	}
	if err != nil {
		early.Stop()
		return err
	}
	defer res.Close()
	pushStart := time.Now()
	if n := early.Wait(); n > 0 {
		bo.Logger.Debug("layers uploaded while building", "uploads", n)
	}
	var out push.Artifact = res.Image
	if res.Index != nil {
		out = res.Index
	}
	names, err := push.Publish(cmd.Context(), out, po)
	if err != nil {
		return err
	}
	extra, err := f.pushExtra(cmd.Context(), res, po, po.Progress)
	if err != nil {
		return err
	}
	names = append(names, extra...)
	attrs := []any{"push", time.Since(pushStart).Seconds()}
	for _, p := range res.Phases.Names() {
		attrs = append(attrs, p, res.Phases[p].Seconds())
	}
	bo.Logger.Debug("build phases", attrs...)
	endProgress() // the rows drawn last, before the names below them
	stdout := cmd.OutOrStdout()
	if po.TarPath == "-" || po.OCIArchivePath == "-" || po.FilesystemTarPath == "-" {
		stdout = stderr // stdout holds the archive
	}
	if po.NoPush {
		// Nothing went to a registry: no repository name, which would
		// read as pushed (to Docker Hub for a bare -t app:1).
		names = nil
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	if len(names) == 0 {
		fmt.Fprintln(stdout, res.Digest)
	}
	if f.nothingPushed {
		fmt.Fprintln(stderr, "WARNING: no --destination given: the image was built and not pushed")
	}
	return nil
}

// fetchContext makes --context a local directory: archives and git
// repositories are unpacked into a temporary directory that the returned
// function removes.
func (f *buildFlags) fetchContext(cmd *cobra.Command) (func(), error) {
	noop := func() {}
	local := !strings.Contains(f.context, "://") || strings.HasPrefix(f.context, "dir://")
	if local && f.contextSubPath == "" {
		return noop, nil
	}
	opts := buildcontext.Options{SubPath: f.contextSubPath, Stdin: cmd.InOrStdin()}
	for _, kv := range strings.Split(f.git, ",") {
		if branch, ok := strings.CutPrefix(kv, "branch="); ok {
			opts.GitBranch = branch
		}
	}
	cleanup := noop
	if !local {
		base := f.workDirectory()
		if base != "" {
			if err := os.MkdirAll(base, 0o700); err != nil {
				return nil, fmt.Errorf("creating the work directory: %w", err)
			}
		}
		dir, err := os.MkdirTemp(base, "context-")
		if err != nil {
			return nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		opts.Dir = filepath.Join(dir, "context")
	}
	ctxDir, err := buildcontext.Fetch(cmd.Context(), f.context, opts)
	if err != nil {
		cleanup()
		return nil, err
	}
	f.context = ctxDir
	return cleanup, nil
}
