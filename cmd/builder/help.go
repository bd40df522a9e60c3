package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagGroups orders the help: what most builds need first, kaniko's
// compatibility flags (accepted, changing little or nothing) last.
var flagGroups = []struct {
	title string
	flags []string
}{
	{"Build", []string{"context", "context-sub-path", "git", "dockerfile", "file", "target", "build-arg", "platform", "label", "annotation", "secret", "ssh", "allow", "dryrun"}},
	{"Output", []string{"destination", "tag", "output", "no-push", "tar-path", "oci-layout-path", "digest-file", "image-name-with-digest-file", "image-name-tag-with-digest-file", "iidfile", "metadata-file", "image-format", "compression", "compression-level", "reproducible", "rewrite-timestamp", "progress", "quiet"}},
	{"Cache", []string{"cache", "no-cache", "cache-repo", "cache-dir", "cache-ttl", "cache-key-ignore-arg", "cache-mount-dir", "export-cache-mounts", "no-push-cache"}},
	{"Registries", []string{"credential-helpers", "insecure", "insecure-pull", "insecure-registry", "skip-tls-verify", "skip-tls-verify-pull", "skip-tls-verify-registry", "registry-certificate", "registry-client-cert", "registry-mirror", "registry-map", "skip-default-registry-fallback", "skip-push-permission-check", "push-retry", "image-download-retry", "image-fs-extract-retry"}},
	{"Isolation and work directory", []string{"isolation", "work-dir", "keep-work-dir", "no-overlay", "memory", "pids-limit", "ignore-path", "ignore-var-run", "cleanup", "force"}},
	{"Diagnostics", []string{"verbosity", "log-format", "log-timestamp", "help"}},
}

// compatTitle heads the flags of no group: kaniko's, kept so that its
// jobs run unchanged.
const compatTitle = "kaniko compatibility (accepted; see docs/kaniko.md)"

// buildExamples are shown by builder build --help.
const buildExamples = `  builder build . -t registry.example.com/app:1
  builder build --context ./app --destination registry.example.com/app:1 --cache
  builder build . --platform linux/amd64,linux/arm64 -t registry.example.com/app:1
  builder build . -o type=local,dest=out      # the image's files, nothing pushed
  builder build . --no-push --tar-path app.tar`

// groupedUsage prints the command's usage with its flags in groups.
func groupedUsage(cmd *cobra.Command) error {
	w := cmd.OutOrStderr()
	fmt.Fprintf(w, "Usage:\n  %s\n", cmd.UseLine())
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-10s %s\n", c.Name(), c.Short)
			}
		}
	}
	if cmd.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", cmd.Example)
	}
	grouped := map[string]bool{}
	for _, g := range flagGroups {
		set := pflag.NewFlagSet(g.title, pflag.ContinueOnError)
		for _, name := range g.flags {
			grouped[name] = true
			if fl := cmd.Flags().Lookup(name); fl != nil && !fl.Hidden {
				set.AddFlag(fl)
			}
		}
		if set.HasAvailableFlags() {
			set.SortFlags = false
			fmt.Fprintf(w, "\n%s:\n%s", g.title, set.FlagUsages())
		}
	}
	rest := pflag.NewFlagSet("rest", pflag.ContinueOnError)
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if !grouped[fl.Name] && !fl.Hidden {
			rest.AddFlag(fl)
		}
	})
	if rest.HasAvailableFlags() {
		fmt.Fprintf(w, "\n%s:\n%s", compatTitle, rest.FlagUsages())
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nUse \"%s [command] --help\" for more about a command.\n", cmd.CommandPath())
	}
	return nil
}
