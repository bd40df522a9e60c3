package main

import (
	"context"
	"fmt"
	"io"

	"github.com/buildcrew/builder/pkg/build"
)

// printPlan prints what the build would do (--dryrun).
func printPlan(ctx context.Context, bo build.Options, out io.Writer) error {
	plan, err := build.DryRun(ctx, bo)
	if err != nil {
		return err
	}
	for _, st := range plan.Stages {
		name := st.Name
		if st.Platform != "" {
			name += " (" + st.Platform + ")"
		}
		fmt.Fprintf(out, "stage %s: FROM %s\n", name, st.Base)
		for _, s := range st.Steps {
			fmt.Fprintf(out, "  %s\n", s)
		}
	}
	return nil
}
