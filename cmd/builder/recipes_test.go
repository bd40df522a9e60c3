package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

var githubExpr = regexp.MustCompile(`\$\{\{[^}]*\}\}`)

// recipeArgs finds the builder invocations in a recipe: container and step
// args lists, "args" strings of container actions, and script lines that
// run /kaniko/executor.
func recipeArgs(node any, out *[][]string) {
	switch n := node.(type) {
	case map[string]any:
		if image, _ := n["image"].(string); strings.Contains(image, "builder") {
			if list, ok := n["args"].([]any); ok {
				var args []string
				for _, a := range list {
					args = append(args, a.(string))
				}
				*out = append(*out, args)
			}
		}
		if uses, _ := n["uses"].(string); strings.Contains(uses, "builder") {
			if with, ok := n["with"].(map[string]any); ok {
				// GitHub expands ${{ ... }} before the container sees the args.
				*out = append(*out, strings.Fields(githubExpr.ReplaceAllString(with["args"].(string), "value")))
			}
		}
		for _, v := range n {
			recipeArgs(v, out)
		}
	case []any:
		for _, v := range n {
			recipeArgs(v, out)
		}
	case string:
		if rest, ok := strings.CutPrefix(n, "/kaniko/executor "); ok {
			*out = append(*out, strings.Fields(rest))
		}
	}
}

// TestRecipes checks that every argument the recipes in docs/recipes pass
// is a flag the CLI accepts and acts on.
func TestRecipes(t *testing.T) {
	files, err := filepath.Glob("../../docs/recipes/*.y*ml")
	if err != nil || len(files) < 4 {
		t.Fatalf("want the Kubernetes, Tekton, GitLab and GitHub recipes, found %v (%v)", files, err)
	}
	status := map[string]string{}
	for _, k := range kanikoFlags {
		status[k.name] = k.status
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			var invocations [][]string
			recipeArgs(doc, &invocations)
			if len(invocations) == 0 {
				t.Fatal("no builder invocation found")
			}
			for _, args := range invocations {
				f := &buildFlags{}
				cmd := &cobra.Command{}
				f.register(cmd)
				if err := cmd.ParseFlags(args); err != nil {
					t.Errorf("%v: %v", args, err)
					continue
				}
				if len(cmd.Flags().Args()) > 0 {
					t.Errorf("%v: stray arguments %v", args, cmd.Flags().Args())
				}
				for _, a := range args {
					name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
					if strings.HasPrefix(a, "--") && status[name] != "" && status[name] != supported {
						t.Errorf("--%s is %s", name, status[name])
					}
				}
				if !cmd.Flags().Changed("destination") {
					t.Errorf("%v: pushes nowhere", args)
				}
			}
		})
	}
}
