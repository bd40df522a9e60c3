package integration

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// gitlabScript is the script of docs/recipes/gitlab-ci.yml as GitLab
// Runner hands it to the job image's shell: its lines in order, stopping
// at the first that fails.
func gitlabScript(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../docs/recipes/gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var recipe map[string]struct {
		Script []string `yaml:"script"`
	}
	if err := yaml.Unmarshal(data, &recipe); err != nil {
		t.Fatal(err)
	}
	job, ok := recipe["build-image"]
	if !ok || len(job.Script) == 0 {
		t.Fatal("the GitLab recipe has no build-image job with a script")
	}
	return "set -e\n" + strings.Join(job.Script, "\n") + "\n"
}

// TestDebugImageGitLab: the debug variant of the builder's image has
// kaniko's layout (busybox at /busybox, on PATH) and runs the GitLab
// recipe's job the way GitLab Runner does: entrypoint reset, the script
// given to sh -c, in a Pod's container, pushing to a registry that wants
// the credentials the script wrote.
func TestDebugImageGitLab(t *testing.T) {
	needs(t)
	self := selfImage(t, "debug")
	cfg := inspect(t, self, true)["config"].(map[string]any)
	if jsonOf(cfg["Entrypoint"]) != `["/kaniko/executor"]` || !strings.Contains(jsonOf(cfg["Env"]), "PATH=/kaniko:/busybox") {
		t.Errorf("config %s", jsonOf(cfg))
	}
	p := fetch(t, self)
	for _, want := range []string{"/busybox/busybox", "/busybox/sh", "/busybox/base64", "/kaniko/executor"} {
		if _, ok := p.tree[want]; !ok {
			t.Errorf("%s missing from the debug image", want)
		}
	}

	const user, pass = "gitlab-ci-token", "job-token-123"
	dir := t.TempDir()
	registry := startAuthRegistry(t, user, pass)
	project := writeContext(t, map[string]string{
		"Dockerfile": "FROM " + env.busybox + "\nCOPY app.txt /app.txt\nRUN wc -c /app.txt > /size\n",
		"app.txt":    "built in CI\n",
	})
	image := registry + "/group/project"
	vars := []any{"CI_REGISTRY=" + registry, "CI_REGISTRY_USER=" + user, "CI_REGISTRY_PASSWORD=" + pass,
		"CI_PROJECT_DIR=/workspace", "CI_REGISTRY_IMAGE=" + image, "CI_COMMIT_SHORT_SHA=abc1234",
		"CI_COMMIT_SHA=abc1234def5678abc1234def5678abc1234def56"}
	pod := asPod([]string{"sh", "-c", gitlabScript(t)}, project)
	out, code := runImageWith(t, self, func(spec map[string]any) {
		pod(spec)
		proc := spec["process"].(map[string]any)
		proc["env"] = append(proc["env"].([]any), vars...)
	})
	if code != 0 {
		t.Fatalf("the GitLab job: exit %d\n%s", code, tail(out, 30))
	}
	if strings.Contains(out, pass) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(user+":"+pass))) {
		t.Errorf("the job's output shows the password:\n%s", out)
	}
	got := run(t, "skopeo", "inspect", "--tls-verify=false", "--creds", user+":"+pass, "docker://"+image+":abc1234")
	if !strings.Contains(got, "Digest") {
		t.Fatalf("nothing was pushed:\n%s", got)
	}
	layout, bundle := filepath.Join(dir, "layout"), filepath.Join(dir, "bundle")
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "--src-creds", user+":"+pass, "docker://"+image+":abc1234", "oci:"+layout+":t")
	run(t, "umoci", "unpack", "--image", layout+":t", bundle)
	if got, _ := os.ReadFile(filepath.Join(bundle, "rootfs", "size")); string(got) != "12 /app.txt\n" {
		t.Errorf("the job's image has /size %q", got)
	}
}
