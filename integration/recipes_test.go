package integration

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// recipeContainerArgs reads the args of the builder's container in a
// Kubernetes Job recipe.
func recipeContainerArgs(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile("../docs/recipes/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Image string   `yaml:"image"`
						Args  []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	// The first document is the Job.
	if err := yaml.NewDecoder(strings.NewReader(string(data))).Decode(&job); err != nil {
		t.Fatal(err)
	}
	for _, c := range job.Spec.Template.Spec.Containers {
		if strings.Contains(c.Image, "builder") {
			return c.Args
		}
	}
	t.Fatalf("%s has no builder container", file)
	return nil
}

// TestCacheVolumeRecipe runs docs/recipes/kubernetes-job-cache.yaml's
// builder the way its Pod would (the builder's image, a Pod's
// capabilities, the context read-only at /workspace, the cache volume at
// /cache), twice on the same volume: the second run takes every step
// from the caches and pushes the same image.
func TestCacheVolumeRecipe(t *testing.T) {
	needs(t)
	self := selfImage(t, "image")
	ctx := writeContext(t, map[string]string{
		"Dockerfile": dockerfile("FROM {{.Busybox}}\nCOPY app.txt /app.txt\nRUN --mount=type=cache,target=/var/cache/app echo run >> /var/cache/app/runs && wc -l < /var/cache/app/runs > /runs-seen && echo built > /built\n"),
		"app.txt":    "app\n",
	})
	cacheVol := t.TempDir()
	var args []string
	for _, a := range recipeContainerArgs(t, "kubernetes-job-cache.yaml") {
		switch {
		case strings.HasPrefix(a, "--destination="):
			a = "--destination=" + env.registry + "/recipes/cached:1"
		case strings.HasPrefix(a, "--digest-file="):
			a = "--digest-file=/cache/digest"
		}
		args = append(args, a)
	}
	runPod := func() string {
		t.Helper()
		out, code := runImageWith(t, self, func(spec map[string]any) {
			asPod(append([]string{"/kaniko/executor"}, args...), ctx)(spec)
			spec["mounts"] = append(spec["mounts"].([]any), map[string]any{
				"destination": "/cache", "type": "bind", "source": cacheVol, "options": []string{"rbind", "rw"},
			})
		})
		if code != 0 {
			t.Fatalf("the recipe's builder: exit %d\n%s", code, tail(out, 30))
		}
		return out
	}
	runPod()
	first, _ := os.ReadFile(cacheVol + "/digest")
	out := runPod()
	second, _ := os.ReadFile(cacheVol + "/digest")
	if len(first) == 0 || string(first) != string(second) {
		t.Errorf("digests %q then %q: want the same image", first, second)
	}
	if strings.Count(out, "CACHED") < 2 {
		t.Errorf("the second run did not take its steps from the cache:\n%s", tail(out, 20))
	}
	for _, dir := range []string{"steps", "layers", "mounts"} {
		if entries, _ := os.ReadDir(cacheVol + "/" + dir); len(entries) == 0 {
			t.Errorf("the cache volume's %s is empty", dir)
		}
	}
}
