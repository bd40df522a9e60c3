package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/push"
)

// runBuild builds, then publishes, and prints repo@digest per destination
// on stdout. Progress goes to stderr.
func runBuild(cmd *cobra.Command, f *buildFlags) error {
	bo, po, err := f.options()
	if err != nil {
		return err
	}
	bo.Progress = cmd.ErrOrStderr()
	po.Progress = cmd.ErrOrStderr()
	if bo.Logger, err = f.logger(cmd.ErrOrStderr()); err != nil {
		return err
	}
	res, err := build.Build(cmd.Context(), bo)
	if err != nil {
		return err
	}
	defer res.Close()
	names, err := push.Publish(cmd.Context(), res.Image, po)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintln(cmd.OutOrStdout(), n)
	}
	if len(names) == 0 {
		fmt.Fprintln(cmd.OutOrStdout(), res.Digest)
	}
	return nil
}
