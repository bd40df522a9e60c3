package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// concurrentDockerfile has every store that outlives a build in play:
// kept base layers (--cache-dir), the step cache (an oci: repository),
// and cache mounts, locked and shared.
const concurrentDockerfile = `ARG DEBIAN
ARG BUSYBOX
FROM $DEBIAN AS deps
ARG VARIANT
RUN --mount=type=cache,target=/var/cache/thing,sharing=locked echo "$VARIANT" >> /var/cache/thing/log && mkdir -p /out && echo "deps $VARIANT" > /out/deps && cp /etc/debian_version /out/
FROM $BUSYBOX
ARG VARIANT
COPY --from=deps /out/ /app/
COPY ctx.txt /app/
RUN --mount=type=cache,target=/cache echo "$VARIANT" > /app/variant && echo "$VARIANT" >> /cache/seen
`

// TestEightAtOnce: eight builds at once, four variants twice, sharing one
// --cache-dir, one oci: cache repository and one cache-mount directory,
// all succeed and give the images the same builds give one at a time on
// stores of their own.
func TestEightAtOnce(t *testing.T) {
	needs(t)
	deb := debianBase(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": concurrentDockerfile, "ctx.txt": "context\n"})
	args := func(i int, stores string, tag string) []string {
		return []string{"--context", ctx, "--destination", fmt.Sprintf("%s/eight/%d:%s", env.registry, i, tag),
			"--build-arg", "DEBIAN=" + deb, "--build-arg", "BUSYBOX=" + env.busybox, "--build-arg", fmt.Sprintf("VARIANT=v%d", i%4),
			"--reproducible", "--cache", "--cache-repo", "oci:" + filepath.Join(stores, "steps"),
			"--cache-dir", filepath.Join(stores, "layers"), "--cache-mount-dir", filepath.Join(stores, "mounts")}
	}
	shared := t.TempDir()
	var wg sync.WaitGroup
	results := make([]result, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runBuilder(t, ctx, nil, args(i, shared, "together")...)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("build %d of eight at once: exit %d\n%s", i, r.code, tail(r.stderr, 20))
		}
	}
	for i := range 8 {
		mustBuild(t, ctx, args(i, t.TempDir(), "alone")...)
		together := inspect(t, fmt.Sprintf("%s/eight/%d:together", env.registry, i), false)["Digest"]
		alone := inspect(t, fmt.Sprintf("%s/eight/%d:alone", env.registry, i), false)["Digest"]
		if together != alone {
			t.Errorf("build %d: %v at once, %v alone", i, together, alone)
		}
	}
	p := fetch(t, env.registry+"/eight/5:together")
	if got, _ := os.ReadFile(filepath.Join(p.rootfs, "app/variant")); string(got) != "v1\n" {
		t.Errorf("/app/variant = %q", got)
	}
	// The shared cache mount saw the steps of every variant that ran.
	seen := run(t, "sh", "-c", "cat "+filepath.Join(shared, "mounts")+"/*/data/seen | sort -u | tr '\\n' ' '")
	if strings.TrimSpace(seen) != "v0 v1 v2 v3" {
		t.Errorf("the shared cache mount saw %q", seen)
	}
}
