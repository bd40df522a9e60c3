package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var refWithDigest = regexp.MustCompile(`^(\S+)@sha256:[0-9a-f]{64}$`)

// TestHelloExample builds the README's example and pushes it under two tags.
func TestHelloExample(t *testing.T) {
	needs(t)
	repo := env.registry + "/hello"
	r := mustBuild(t, "..", "build", "--context", "examples/hello",
		"--destination", repo+":1", "--destination", repo+":latest")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 || !refWithDigest.MatchString(lines[0]) || !strings.HasPrefix(lines[0], repo+"@") {
		t.Fatalf("stdout = %q, want one line %s@sha256:...", r.stdout, repo)
	}
	digest := strings.TrimPrefix(lines[0], repo+"@")
	for _, tag := range []string{"1", "latest"} {
		if got := inspect(t, repo+":"+tag, false)["Digest"]; got != digest {
			t.Errorf("%s:%s has digest %v, want %s", repo, tag, got, digest)
		}
		run(t, "crane", "validate", "--remote", repo+":"+tag)
	}
	if !strings.Contains(r.stderr, "#1 [1/2] COPY hello /hello") || !strings.Contains(r.stderr, "DONE") {
		t.Errorf("progress lacks BuildKit-style steps:\n%s", r.stderr)
	}
	if out, code := runImage(t, repo+":1"); code != 0 || out != "Hello from a daemonless build!\n" {
		t.Errorf("running the image: exit %d, output %q", code, out)
	}
}

const multiStage = `FROM {{.Busybox}} AS build
WORKDIR /src
COPY main.txt .
RUN echo "built from $(cat main.txt)" > out.txt && mkdir -p /junk/deep && echo x > /junk/deep/file
RUN rm -rf /junk

FROM {{.Busybox}}
ENV GREETING=hello
RUN echo "app:x:1000:1000::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1000:" >> /etc/group
COPY --from=build /src/out.txt /app/out.txt
RUN rm /bin/vi && mkdir -p /data/old && touch /data/old/a /data/keep
RUN rm -rf /data/old && mkdir /data/old && touch /data/old/b
USER app
WORKDIR /home/app/work
RUN echo "$GREETING from $(id -un)" > note.txt
CMD ["/bin/sh", "-c", "cat /app/out.txt note.txt; ls /data/old /data; stat -c '%U %a' . note.txt; ls /bin/vi /junk 2>&1; true"]
`

func dockerfile(tmpl string) string {
	return strings.NewReplacer("{{.Busybox}}", env.busybox, "{{.Registry}}", env.registry).Replace(tmpl)
}

// TestMultiStage covers RUN, COPY, ENV, USER, WORKDIR, deletions and two
// stages, checked with skopeo, crane and runc.
func TestMultiStage(t *testing.T) {
	needs(t)
	dir := writeContext(t, map[string]string{"Dockerfile": dockerfile(multiStage), "main.txt": "main"})
	ref := env.registry + "/multi:1"
	mustBuild(t, dir, "--context", dir, "--destination", ref)
	run(t, "crane", "validate", "--remote", ref)

	out, code := runImage(t, ref)
	if code != 0 {
		t.Fatalf("the image exited %d:\n%s", code, out)
	}
	for _, want := range []string{
		"built from main\n", "hello from app\n",
		"/data:\nkeep\nold\n", "app 755\napp 644\n",
		"ls: /bin/vi: No such file or directory", "ls: /junk: No such file or directory",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\na\n") {
		t.Errorf("a file of a deleted and recreated directory came back:\n%s", out)
	}

	cfg := inspect(t, ref, true)["config"].(map[string]any)
	if cfg["User"] != "app" || cfg["WorkingDir"] != "/home/app/work" {
		t.Errorf("config User=%v WorkingDir=%v", cfg["User"], cfg["WorkingDir"])
	}
	if env := fmt.Sprint(cfg["Env"]); !strings.Contains(env, "GREETING=hello") {
		t.Errorf("config Env = %s", env)
	}
	// busybox's layer, then RUN, COPY, RUN, RUN, WORKDIR and RUN: USER, ENV
	// and CMD add history entries but no layers.
	if n := len(inspect(t, ref, false)["Layers"].([]any)); n != 7 {
		t.Errorf("%d layers, want 7", n)
	}
}

// TestFailingRun checks that a failing RUN's status becomes the builder's,
// that the error names the step, and that nothing is pushed.
func TestFailingRun(t *testing.T) {
	needs(t)
	dir := writeContext(t, map[string]string{"Dockerfile": dockerfile("FROM {{.Busybox}}\nRUN echo step-output\n\nRUN exit 3\n")})
	ref := env.registry + "/failing:1"
	r := runBuilder(t, dir, nil, "--context", dir, "--destination", ref)
	if r.code != 3 {
		t.Errorf("exit status %d, want 3", r.code)
	}
	if !strings.Contains(r.stderr, "Dockerfile:4: RUN exit 3: exit status 3") {
		t.Errorf("stderr does not name the step:\n%s", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	if out, err := runCmd("skopeo", "inspect", "--tls-verify=false", "docker://"+ref); err == nil {
		t.Errorf("the failed build was pushed:\n%s", out)
	}
}

// TestMissingCopySource checks the message for a COPY of a missing file.
func TestMissingCopySource(t *testing.T) {
	needs(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY here.txt /\nCOPY missing.txt /x\n", "here.txt": "x"})
	r := runBuilder(t, dir, nil, "--context", dir, "--no-push")
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	want := `Dockerfile:3: COPY missing.txt /x: "missing.txt" not found in the build context`
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
}

// TestOutputs writes a tarball, an OCI layout and the digest files without
// pushing, and reads them back with skopeo and umoci.
func TestOutputs(t *testing.T) {
	needs(t)
	out := t.TempDir()
	tarPath, layoutPath := filepath.Join(out, "img.tar"), filepath.Join(out, "layout")
	digestFile, nameFile := filepath.Join(out, "digest"), filepath.Join(out, "names")
	ref := env.registry + "/outputs:v1"
	r := mustBuild(t, "..", "build", "examples/hello", "--no-push", "-d", ref,
		"--tar-path", tarPath, "--oci-layout-path", layoutPath,
		"--digest-file", digestFile, "--image-name-with-digest-file", nameFile)

	digest, err := os.ReadFile(digestFile)
	if err != nil {
		t.Fatal(err)
	}
	names, err := os.ReadFile(nameFile)
	if err != nil {
		t.Fatal(err)
	}
	// The names file is asked for; stdout, with nothing pushed, says the
	// digest alone.
	wantName := env.registry + "/outputs@" + string(digest)
	if strings.TrimSpace(string(names)) != wantName || strings.TrimSpace(r.stdout) != string(digest) {
		t.Errorf("names file %q, stdout %q, want %q and the digest", names, r.stdout, wantName)
	}
	if got := inspectFile(t, "docker-archive:"+tarPath)["Digest"]; got == "" {
		t.Error("skopeo cannot read the tarball")
	}
	if !strings.Contains(run(t, "tar", "-xOf", tarPath, "manifest.json"), ref) {
		t.Error("the tarball is not tagged with the destination")
	}
	if got := inspectFile(t, "oci:"+layoutPath+":v1")["Digest"]; got != string(digest) {
		t.Errorf("the layout holds %v, want %s", got, digest)
	}
	run(t, "umoci", "unpack", "--image", layoutPath+":v1", filepath.Join(out, "bundle"))
	if _, err := os.Stat(filepath.Join(out, "bundle/rootfs/hello")); err != nil {
		t.Errorf("the unpacked layout lacks /hello: %v", err)
	}
	if out, err := runCmd("skopeo", "inspect", "--tls-verify=false", "docker://"+ref); err == nil {
		t.Errorf("--no-push pushed:\n%s", out)
	}
}

// TestBuildxOutputs: buildx's --output types, read by skopeo, umoci and
// tar: one build pushes, writes an OCI archive and the image's files.
func TestBuildxOutputs(t *testing.T) {
	needs(t)
	out := t.TempDir()
	ref := env.registry + "/outputs:buildx"
	archive, files, fsTar := filepath.Join(out, "oci.tar"), filepath.Join(out, "files"), filepath.Join(out, "fs.tar")
	ctx := writeContext(t, map[string]string{"Dockerfile": dockerfile("FROM {{.Busybox}}\nRUN mkdir /dist && echo built > /dist/artifact && rm /bin/vi\n")})
	r := mustBuild(t, ctx, "build", ctx, "-o", "type=registry,name="+ref, "-o", "type=oci,dest="+archive,
		"-o", "type=local,dest="+files, "-o", "type=tar,dest="+fsTar)
	pushed := inspect(t, ref, false)["Digest"]
	if got := inspectFile(t, "oci-archive:"+archive)["Digest"]; got != pushed || !strings.Contains(r.stdout, pushed.(string)) {
		t.Errorf("the OCI archive holds %v, the registry %v, stdout %q", got, pushed, r.stdout)
	}
	if b, _ := os.ReadFile(filepath.Join(files, "dist/artifact")); string(b) != "built\n" {
		t.Errorf("type=local: dist/artifact = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(files, "bin/vi")); err == nil {
		t.Error("type=local: a file the RUN removed is there")
	}
	if _, err := os.Stat(filepath.Join(files, "bin/busybox")); err != nil {
		t.Errorf("type=local lacks the base's files: %v", err)
	}
	if got := run(t, "tar", "-xOf", fsTar, "dist/artifact"); got != "built\n" {
		t.Errorf("type=tar: dist/artifact = %q", got)
	}
}

// TestDockerFormat pushes a Docker v2 schema 2 image.
func TestDockerFormat(t *testing.T) {
	needs(t)
	ref := env.registry + "/docker-format:1"
	mustBuild(t, "..", "build", "examples/hello", "-d", ref, "--image-format", "docker")
	raw := run(t, "skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+ref)
	for _, mt := range []string{"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip"} {
		if !strings.Contains(raw, mt) {
			t.Errorf("the manifest lacks %s:\n%s", mt, raw)
		}
	}
	run(t, "crane", "validate", "--remote", ref)
}

// TestRepeatedTarget: two targets in one run, as the kaniko fork takes
// them, each pushed to its own destination, their common stage built
// once.
func TestRepeatedTarget(t *testing.T) {
	needs(t)
	df := dockerfile("FROM {{.Busybox}} AS base\nRUN echo base >> /ran && date +%s%N > /base-id\nFROM base AS app\nRUN echo app > /app\nFROM base AS test\nRUN test -f /base-id && echo passed > /test\n")
	ctx := writeContext(t, map[string]string{"Dockerfile": df})
	app, test := env.registry+"/targets/app:1", env.registry+"/targets/test:1"
	r := mustBuild(t, ctx, "--context", ctx, "--destination", app, "--target", "app", "--target", "test="+test)
	for _, ref := range []string{app, test} {
		if d := inspect(t, ref, false)["Digest"].(string); !strings.Contains(r.stdout, "@"+d) {
			t.Errorf("stdout %q does not name %s's digest %s", r.stdout, ref, d)
		}
	}
	a, b := fetch(t, app), fetch(t, test)
	if _, ok := a.tree["/test"]; ok {
		t.Error("the app image has the test stage's file")
	}
	if _, ok := b.tree["/test"]; !ok {
		t.Error("the test image lacks /test")
	}
	idA, _ := os.ReadFile(filepath.Join(a.rootfs, "base-id"))
	idB, _ := os.ReadFile(filepath.Join(b.rootfs, "base-id"))
	if len(idA) == 0 || string(idA) != string(idB) {
		t.Errorf("the common stage ran twice: base-id %q and %q", idA, idB)
	}
}
