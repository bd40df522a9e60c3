package integration

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecrets gives RUN steps a secret as a file and as an environment
// variable, then searches every layer (compressed and not), the config,
// the manifest and the build's output for its bytes.
func TestSecrets(t *testing.T) {
	needs(t)
	const secret = "s3cr3t-TOKEN-7f1e2d"
	// The Dockerfile checks the secret by its hash: the command text goes
	// into the history, so it must not hold the secret itself.
	h := sha256.Sum256([]byte(secret))
	sum := hex.EncodeToString(h[:])
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := writeContext(t, map[string]string{"Dockerfile": `ARG BUSYBOX
FROM $BUSYBOX
RUN --mount=type=secret,id=token echo "` + sum + `  /run/secrets/token" | sha256sum -c -s && test "$(stat -c %a /run/secrets/token)" = 400 && echo used-file > /used-file
RUN --mount=type=secret,id=token,env=TOKEN,required=true test "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" = ` + sum + ` && ! test -e /run/secrets/token && echo used-env > /used-env
RUN --mount=type=secret,id=token,target=/etc/app/key,mode=0440,uid=65534 test "$(stat -c %a:%u /etc/app/key)" = 440:65534 && cp /etc/app/key /dev/null
RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent && echo skipped > /skipped
`})
	ref := env.registry + "/secrets/app:1"
	for _, isolation := range []string{"chroot"} {
		r := mustBuild(t, ctx, "--context", ctx, "--destination", ref, "--build-arg", "BUSYBOX="+env.busybox,
			"--secret", "id=token,src="+secretFile, "--isolation", isolation, "--verbosity", "debug")
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Error("the secret appears in the build's output")
		}
	}
	p := fetch(t, ref)
	for _, want := range []string{"/used-file", "/used-env", "/skipped"} {
		if _, ok := p.tree[want]; !ok {
			t.Errorf("%s missing: a step did not run as expected", want)
		}
	}
	for _, gone := range []string{"/run/secrets", "/run/secrets/token", "/etc/app/key", "/etc/app"} {
		if _, ok := p.tree[gone]; ok {
			t.Errorf("%s is in the image", gone)
		}
	}
	dir := t.TempDir()
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "oci:"+dir+":t")
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	for _, b := range blobs {
		data, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("blob %s holds the secret", filepath.Base(b))
		}
		if gz, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			plain, _ := io.ReadAll(gz)
			if bytes.Contains(plain, []byte(secret)) {
				t.Errorf("layer %s holds the secret", filepath.Base(b))
			}
		}
	}
}
