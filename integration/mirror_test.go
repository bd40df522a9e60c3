package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestRegistryMirrors pulls base images through a second registry with
// --registry-map and --registry-mirror, with and without falling back to
// the image's own registry.
func TestRegistryMirrors(t *testing.T) {
	needs(t)
	mirror, stop, err := testenv.StartRegistry(filepath.Join(t.TempDir(), "mirror"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	copyImage := func(to string) {
		run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+env.busybox, "docker://"+to)
	}
	// Only the mirror has this one.
	copyImage(mirror + "/cache/mirrored/busybox:1")
	// Docker Hub's busybox, as a Hub mirror under a path serves it.
	copyImage(mirror + "/hub/library/busybox:1.36")

	tests := []struct {
		name, from string
		args       []string
		env        []string
		wantErr    string
	}{
		{name: "map to a mirror that has it", from: env.registry + "/mirrored/busybox:1",
			args: []string{"--registry-map", env.registry + "=" + mirror + "/cache"}},
		{name: "map with fallback", from: env.busybox,
			args: []string{"--registry-map", "quay.io=unused.example;" + env.registry + "=" + mirror + "/empty"}},
		{name: "map without fallback", from: env.busybox,
			args:    []string{"--registry-map", env.registry + "=" + mirror + "/empty", "--skip-default-registry-fallback"},
			wantErr: "itself was not tried (no fallback)"},
		{name: "Docker Hub mirror", from: "busybox:1.36",
			args: []string{"--registry-mirror", mirror + "/hub", "--skip-default-registry-fallback"}},
		{name: "Docker Hub mirror from KANIKO_REGISTRY_MIRROR", from: "busybox:1.36",
			args: []string{"--skip-default-registry-fallback"}, env: []string{"KANIKO_REGISTRY_MIRROR=nowhere.invalid;" + mirror + "/hub"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + tt.from + "\nCOPY --from=" + tt.from + " /bin/busybox /copied\nRUN test -x /copied\n"})
			dest := env.registry + "/mirrored/result:" + string(rune('a'+i))
			r := runBuilder(t, ctx, tt.env, append([]string{"--context", ctx, "--destination", dest}, tt.args...)...)
			if tt.wantErr != "" {
				if r.code == 0 || !strings.Contains(r.stderr, tt.wantErr) {
					t.Fatalf("exit %d, want a failure naming %q:\n%s", r.code, tt.wantErr, tail(r.stderr, 10))
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, tail(r.stderr, 20))
			}
			if _, ok := fetch(t, dest).tree["/copied"]; !ok {
				t.Error("COPY --from the mirrored image copied nothing")
			}
		})
	}
	// Pushes never go to mirrors: the result is in the destination only.
	if out, err := runCmd("skopeo", "inspect", "--tls-verify=false", "docker://"+mirror+"/mirrored/result:a"); err == nil {
		t.Errorf("a result was pushed to the mirror: %s", out)
	}
}

// TestCrossRepositoryMount pushes a build FROM an image of the same
// registry: the base layer is mounted from its repository, not uploaded,
// also when --cache-dir keeps a copy for extraction.
func TestCrossRepositoryMount(t *testing.T) {
	needs(t)
	proxy := startFaultProxy(t, env.registry, 0, 1)
	base := strings.Replace(env.busybox, env.registry, proxy.host, 1)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo x > /x\n"})
	mustBuild(t, ctx, "--context", ctx, "--destination", proxy.host+"/mounted/app:1", "--insecure-registry", proxy.host,
		"--cache-dir", t.TempDir())
	mounts, uploads := 0, 0
	for _, r := range proxy.log {
		if strings.HasPrefix(r, "POST ") && strings.Contains(r, "mount=") {
			mounts++
		}
		if strings.HasPrefix(r, "PUT ") && strings.Contains(r, "/mounted/app/blobs/uploads/") {
			uploads++
		}
	}
	if mounts == 0 {
		t.Errorf("no cross-repository mount; requests:\n%s", strings.Join(proxy.log, "\n"))
	}
	if uploads > 2 { // the new layer and the config
		t.Errorf("%d blobs uploaded, want only the new layer and the config", uploads)
	}
}
