package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/buildcrew/builder/pkg/isolation"
	"github.com/spf13/cobra"
)

// newRootCmd is "builder": given build flags and no subcommand it builds,
// so kaniko-style invocations work unchanged.
func newRootCmd() *cobra.Command {
	f := &buildFlags{}
	root := &cobra.Command{
		Use:     "builder",
		Short:   "Build container images from Dockerfiles without a daemon",
		Version: version,
		// "builder buidl": "did you mean build?"
		SuggestionsMinimumDistance: 2,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += ": did you mean " + strings.Join(s, " or ") + "?"
			}
			return errors.New(msg)
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return cmd.Help()
			}
			return runBuild(cmd, f)
		},
	}
	f.register(root)
	root.SetUsageFunc(groupedUsage)
	root.SetFlagErrorFunc(suggestFlag) // the build subcommand inherits it
	root.AddCommand(newBuildCmd(), newVersionCmd())
	return root
}

func newBuildCmd() *cobra.Command {
	f := &buildFlags{dockerFace: true}
	cmd := &cobra.Command{
		Use:   "build [CONTEXT]",
		Short: "Build an image from a Dockerfile and push it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if cmd.Flags().Changed("context") {
					return errors.New("give the context either as an argument or with --context, not both")
				}
				f.context = args[0]
				if f.context == "-" {
					f.context = "tar://stdin" // docker build's spelling
				}
			}
			return runBuild(cmd, f)
		},
	}
	f.register(cmd)
	cmd.Example = buildExamples
	cmd.SetUsageFunc(groupedUsage)
	return cmd
}

// exitCode is the process status: 0, the failed RUN command's own status,
// 130/143 when interrupted, or 1.
func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var se *signalError
	interrupted := errors.As(context.Cause(ctx), &se)
	msg := err.Error()
	if interrupted && !strings.Contains(msg, se.Error()) {
		// Whatever the signal stopped says so, not "context canceled".
		msg = strings.TrimSuffix(strings.TrimSuffix(msg, context.Canceled.Error()), ": ") + ": " + se.Error()
	}
	fmt.Fprintf(stderr, "error: %s\n", msg)
	if errors.Is(err, isolation.ErrNoNamespaces) {
		fmt.Fprintln(stderr, "hint: inside a container that grants no CAP_SYS_ADMIN, pass --isolation=none: the container is then the boundary")
	}
	if host := plainHTTPRegistry(err); host != "" {
		fmt.Fprintf(stderr, "hint: %s speaks plain HTTP: pass --insecure-registry %s (or --insecure-pull for every pull, --insecure for every push)\n", host, host)
	}
	if interrupted {
		return 128 + int(se.sig)
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) && ec.ExitCode() > 0 {
		return ec.ExitCode()
	}
	return 1
}

var httpsTo = regexp.MustCompile(`"https://([^/"]+)/`)

// plainHTTPRegistry is the registry an error says answered HTTPS with
// plain HTTP, or "".
func plainHTTPRegistry(err error) string {
	msg := err.Error()
	if !strings.Contains(msg, "server gave HTTP response to HTTPS client") {
		return ""
	}
	if m := httpsTo.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}
