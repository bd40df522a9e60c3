package integration

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestCredentials pulls and pushes through a registry that wants basic
// auth, with the credentials in $DOCKER_CONFIG/config.json, and checks that
// they never show in the output, even when refused.
func TestCredentials(t *testing.T) {
	needs(t)
	const user, pass = "builder", "s3cr3t-Pa55"
	addr := startAuthRegistry(t, user, pass)
	token := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	good := t.TempDir()
	writeDockerConfig(t, good, addr, token)
	bad := t.TempDir()
	writeDockerConfig(t, bad, addr, base64.StdEncoding.EncodeToString([]byte(user+":wrong-"+pass)))

	// A base image in the private registry, copied there by skopeo.
	base := addr + "/private/busybox:1"
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
		"--dest-creds", user+":"+pass, "docker://"+env.busybox, "docker://"+base)

	ctxDir := writeContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo built > /built\n"})
	ref := addr + "/private/app:1"
	r := runBuilder(t, ctxDir, []string{"DOCKER_CONFIG=" + good}, "--context", ctxDir, "--destination", ref)
	if r.code != 0 {
		t.Fatalf("build with credentials: exit %d\n%s", r.code, r.stderr)
	}
	checkNoSecret(t, r, pass, token)
	out := run(t, "skopeo", "inspect", "--tls-verify=false", "--creds", user+":"+pass, "docker://"+ref)
	if !strings.Contains(out, "Digest") {
		t.Errorf("the pushed image is not there:\n%s", out)
	}

	publicBase := writeContext(t, map[string]string{"Dockerfile": "FROM " + env.busybox + "\nRUN echo built > /built\n"})
	// The pulls skip the check, which would refuse the push first; the
	// push is refused by it, before any command runs: the command would
	// leave a mark in a cache mount, which outlives the build.
	skip := []string{"--skip-push-permission-check"}
	marked := writeContext(t, map[string]string{"Dockerfile": "FROM " + env.busybox + "\nRUN --mount=type=cache,id=mark,target=/m touch /m/ran\n"})
	mounts := t.TempDir()
	for _, tc := range []struct {
		name, config, context, refusal string
		args                           []string
		mark                           string // "none" or "left" in the cache mount; "" for not looked at
	}{
		{"pull without credentials", t.TempDir(), ctxDir, "UNAUTHORIZED", skip, ""},
		{"pull with a wrong password", bad, ctxDir, "UNAUTHORIZED", skip, ""},
		{"push without credentials", t.TempDir(), publicBase, "401 Unauthorized", skip, ""},
		{"push refused before any command runs", t.TempDir(), marked, "cannot push to " + addr + "/private/app", []string{"--cache-mount-dir", mounts}, "none"},
		// The same build with the check skipped: its command leaves the mark.
		{"push refused after the build", t.TempDir(), marked, "401 Unauthorized", append([]string{"--cache-mount-dir", mounts}, skip...), "left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--context", tc.context, "--destination", addr + "/private/app:2"}, tc.args...)
			r := runBuilder(t, tc.context, []string{"DOCKER_CONFIG=" + tc.config}, args...)
			ran, _ := filepath.Glob(filepath.Join(mounts, "*", "data", "ran"))
			if tc.mark == "none" && len(ran) > 0 {
				t.Errorf("the command ran before the push was refused: %v\n%s", ran, r.stderr)
			}
			if tc.mark == "left" && len(ran) == 0 {
				t.Errorf("the command left no mark in %s:\n%s", mounts, r.stderr)
			}
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			if !strings.Contains(r.stderr, addr) || !strings.Contains(r.stderr, tc.refusal) {
				t.Errorf("the error does not name the registry and the refusal:\n%s", r.stderr)
			}
			checkNoSecret(t, r, pass, token)
		})
	}
}

// startAuthRegistry starts a registry of its own that wants user and
// pass (htpasswd), stopped when the test ends, and returns its address.
func startAuthRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	run(t, "htpasswd", "-Bbc", htpasswd, user, pass)
	addr, stop, err := testenv.StartRegistry(filepath.Join(dir, "registry"), htpasswd)
	if stop != nil {
		t.Cleanup(stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func writeDockerConfig(t *testing.T, dir, registry, auth string) {
	t.Helper()
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, registry, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func checkNoSecret(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("a credential appears in the output:\n%s\n%s", r.stdout, r.stderr)
		}
	}
}

// TestCredentialHelpers: --credential-helpers NAME asks the program
// docker-credential-NAME (here a fake one on PATH) for the registry's
// credentials after config.json, as the kaniko fork's flag does; without
// the flag an unknown helper is not asked, and "" asks none.
func TestCredentialHelpers(t *testing.T) {
	needs(t)
	const user, pass = "helped", "from-the-helper"
	addr := startAuthRegistry(t, user, pass)
	bin := t.TempDir()
	helper := "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread s\n[ \"$s\" = \"" + addr + "\" ] || exit 1\necho '{\"Username\":\"" + user + "\",\"Secret\":\"" + pass + "\"}'\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-corp"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	path := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + env.busybox + "\nRUN echo helped > /helped\n"})
	ref := addr + "/helped/app:1"
	for _, tc := range []struct {
		name    string
		args    []string
		refusal string // "" for a build that pushes
	}{
		{"named", []string{"--credential-helpers", "corp"}, ""},
		{"comma-separated", []string{"--credential-helpers=ecr,corp"}, "docker-credential-ecr-login is not on PATH"},
		{"not named", nil, "cannot push to " + addr},
		{"none", []string{"--credential-helpers="}, "cannot push to " + addr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBuilder(t, ctx, path, append([]string{"--context", ctx, "--destination", ref}, tc.args...)...)
			if tc.refusal == "" && r.code != 0 || tc.refusal != "" && (r.code == 0 || !strings.Contains(r.stderr, tc.refusal)) {
				t.Fatalf("exit %d, want %q\n%s", r.code, tc.refusal, tail(r.stderr, 10))
			}
			checkNoSecret(t, r, pass)
		})
	}
	out := run(t, "skopeo", "inspect", "--tls-verify=false", "--creds", user+":"+pass, "docker://"+ref)
	if !strings.Contains(out, "Digest") {
		t.Errorf("nothing was pushed:\n%s", out)
	}
}
