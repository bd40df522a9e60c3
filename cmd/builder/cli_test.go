package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/isolation"
)

// execute runs the CLI with args and returns stdout, stderr and the error.
func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestKanikoStyleInvocation(t *testing.T) {
	tar := filepath.Join(t.TempDir(), "img.tar")
	// No subcommand: the root command builds.
	out, progress, err := execute(t, "--context", "dir://../../examples/hello", "--no-push",
		"--destination", "example.com/hello:1", "--tar-path", tar, "--work-dir", t.TempDir())
	if err != nil {
		t.Fatalf("build: %v\n%s", err, progress)
	}
	// Not pushed: the digest alone, no repository name that reads as
	// pushed.
	if !strings.HasPrefix(out, "sha256:") || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout = %q, want the digest alone", out)
	}
	if !strings.Contains(progress, "exporting to image") {
		t.Errorf("progress on stderr:\n%s", progress)
	}
	if _, err := os.Stat(tar); err != nil {
		t.Errorf("no tarball: %v", err)
	}
}

func TestBuildSubcommandContextArgument(t *testing.T) {
	out, _, err := execute(t, "build", "../../examples/hello", "--no-push", "--work-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "sha256:") {
		t.Errorf("without destinations stdout is the digest: %q", out)
	}
	if _, _, err := execute(t, "build", "a", "--context", "b"); err == nil {
		t.Error("a context given twice was accepted")
	}
}

func TestOptions(t *testing.T) {
	t.Setenv("FROM_ENV", "env-value")
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Other.Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := parseFlags(t, "--context", "dir://"+ctxDir, "--dockerfile", "Other.Dockerfile",
		"--destination", "r.example/x:1", "--build-arg", "A=1", "--build-arg", "B=x=y", "--build-arg", "FROM_ENV",
		"--build-arg", "UNSET_ANYWHERE", "--label", "l=v", "--insecure-pull", "--insecure-registry", "r.example",
		"--skip-tls-verify", "--image-format", "docker", "--custom-platform", "linux/arm64",
		"--registry-mirror", "mirror.example/hub", "--registry-map", "ghcr.io=m1.example;quay.io=m2.example",
		"--push-retry", "3", "--compression-level", "1", "--reproducible", "--kaniko-dir", "/tmp/k",
		"--image-name-tag-with-digest-file", "/tmp/names", "--allow", "network.host,security.insecure",
		"--memory", "512m", "--pids-limit", "200", "--annotation", "team=builders", "--iidfile", "/tmp/iid",
		"--cache-mount-dir", "/tmp/cm", "--cache-key-ignore-arg", "VERSION", "--ssh", "deploy=/tmp/key1,/tmp/key2")
	t.Setenv("DOCKER_CONFIG", "/work/ci/.docker")
	bo, po, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	if bo.Limits.Memory != 512<<20 || bo.Limits.Pids != 200 {
		t.Errorf("limits %+v", bo.Limits)
	}
	if bo.Annotations["team"] != "builders" || po.IIDFile != "/tmp/iid" || bo.CacheMountDir != "/tmp/cm" ||
		!slices.Equal(bo.CacheKeyIgnoreArgs, []string{"VERSION"}) || !slices.Equal(bo.SSH["deploy"], []string{"/tmp/key1", "/tmp/key2"}) {
		t.Errorf("annotations %v iidfile %q cache mounts %q ignored args %v ssh %v", bo.Annotations, po.IIDFile, bo.CacheMountDir, bo.CacheKeyIgnoreArgs, bo.SSH)
	}
	if !bo.AllowInsecure || !slices.Equal(bo.ExcludeFromContext, []string{"/work/ci/.docker"}) {
		t.Errorf("allow insecure %v, excluded from the context %v", bo.AllowInsecure, bo.ExcludeFromContext)
	}
	if bo.ContextDir != ctxDir || bo.Dockerfile != filepath.Join(ctxDir, "Other.Dockerfile") {
		t.Errorf("context %q dockerfile %q", bo.ContextDir, bo.Dockerfile)
	}
	if diff := cmp.Diff(map[string]string{"A": "1", "B": "x=y", "FROM_ENV": "env-value"}, bo.BuildArgs); diff != "" {
		t.Errorf("build args (-want +got):\n%s", diff)
	}
	if !bo.Registry.Insecure || bo.Registry.SkipTLSVerify || po.Registry.Insecure || !po.Registry.SkipTLSVerify {
		t.Errorf("pull registry %+v, push registry %+v: the -pull flags must apply to pulls only", bo.Registry, po.Registry)
	}
	if bo.Format != "docker" || bo.Platform != "linux/arm64" || po.Destinations[0] != "r.example/x:1" {
		t.Errorf("format %q platform %q destinations %v", bo.Format, bo.Platform, po.Destinations)
	}
	for _, flag := range []string{"--platform", "--custom-platform"} {
		bo, _, err := parseFlags(t, "--context", ctxDir, "--no-push", flag, "linux/amd64,linux/arm64/v8").options()
		if err != nil || bo.Platform != "" || !slices.Equal(bo.Platforms, []string{"linux/amd64", "linux/arm64/v8"}) {
			t.Errorf("%s a,b: platform %q platforms %v, %v", flag, bo.Platform, bo.Platforms, err)
		}
	}
	wantMirrors := map[string][]string{"index.docker.io": {"mirror.example/hub"}, "ghcr.io": {"m1.example"}, "quay.io": {"m2.example"}}
	if diff := cmp.Diff(wantMirrors, bo.Registry.Mirrors); diff != "" {
		t.Errorf("mirrors (-want +got):\n%s", diff)
	}
	if po.Registry.Mirrors != nil {
		t.Error("pushes must not go to mirrors")
	}
	if po.Retries != 3 || bo.CompressionLevel != 1 || !bo.Reproducible || bo.WorkDir != "/tmp/k" || po.ImageNameTagWithDigestFile != "/tmp/names" {
		t.Errorf("retries %d level %d reproducible %v work dir %q name-tag file %q", po.Retries, bo.CompressionLevel, bo.Reproducible, bo.WorkDir, po.ImageNameTagWithDigestFile)
	}
}

// parseFlags parses build flags as the CLI would.
func parseFlags(t *testing.T, args ...string) *buildFlags {
	t.Helper()
	f := &buildFlags{}
	cmd := &cobra.Command{}
	f.register(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--context", dir, "--no-push", "--build-arg", "=v"}, "--build-arg \"=v\": want KEY=VALUE"},
		{[]string{"--context", dir, "--no-push", "--label", "novalue"}, "--label \"novalue\": want KEY=VALUE"},
		{[]string{"--context", dir, "--destination", "UPPER/Case:tag"}, "--destination: parsing reference"},
		{[]string{"--context", dir}, "no --destination given"},
		{[]string{"--context", dir, "--no-push", "--memory", "lots"}, "--memory \"lots\": want a size"},
		{[]string{"--context", dir, "--no-push", "--allow", "security.everything"}, "--allow \"security.everything\": the entitlements are"},
		{[]string{"--context", dir, "--no-push", "-f", "missing"}, "--dockerfile missing: not found"},
		{[]string{"--context", filepath.Join(dir, "nope"), "--no-push"}, "build context"},
		{[]string{"--context", "tar://x.tar.gz", "--no-push"}, "context tar://x.tar.gz: open x.tar.gz"},
		{[]string{"--context", "s3://bucket/x.tar.gz", "--no-push"}, "s3:// are not supported"},
		{[]string{"--context", dir, "--no-push", "--bucket", "b"}, "--bucket: cloud storage contexts are not supported"},
		{[]string{"--context", dir, "--no-push", "--compression", "lz4"}, "use gzip or zstd"},
		{[]string{"--context", dir, "--no-push", "--compression", "zstd", "--image-format", "docker"}, "zstd layers need the OCI image format"},
		{[]string{"--context", dir, "--no-push", "--compression-level", "12"}, "use 1 (fastest) to 9"},
		{[]string{"--context", dir, "--no-push", "--snapshot-mode", "fast"}, "use full, redo or time"},
		{[]string{"--context", dir, "--no-push", "--registry-map", "nomirror"}, "want REGISTRY=MIRROR"},
		{[]string{"--context", dir, "--no-push", "--isolation", "vm"}, "use chroot or none"},
		{[]string{"--context", dir, "--no-push", "--cleanup", "--isolation", "chroot"}, "apply to --isolation=none only"},
		{[]string{"--context", dir, "--no-push", "--log-format", "xml"}, "use text, color or json"},
		{[]string{"--context", dir, "--no-push", "--cache"}, "give --cache-repo"},
		{[]string{"--context", dir, "--no-push", "--cache", "--cache-repo", "r.example/cache:tag"}, "without a tag or digest"},
		{[]string{"--context", dir, "--no-push", "--image-format", "v1"}, "unknown image format"},
		{[]string{"--context", dir, "--no-push", "--custom-platform", "linux"}, "want os/arch"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := execute(t, append(tt.args, "--work-dir", t.TempDir())...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	var stderr bytes.Buffer
	ctx := context.Background()
	if got := exitCode(ctx, nil, &stderr); got != 0 {
		t.Errorf("success: %d", got)
	}
	if got := exitCode(ctx, errors.New("bad"), &stderr); got != 1 {
		t.Errorf("plain error: %d", got)
	}
	runErr := &wrapped{err: &isolation.ExitError{Code: 42}}
	if got := exitCode(ctx, runErr, &stderr); got != 42 {
		t.Errorf("RUN exit 42: %d", got)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	cancel(&signalError{sig: syscall.SIGTERM})
	if got := exitCode(cctx, context.Canceled, &stderr); got != 143 {
		t.Errorf("SIGTERM: %d", got)
	}
	if !strings.Contains(stderr.String(), "error: bad\n") {
		t.Errorf("stderr = %q", stderr.String())
	}
	// Wherever the signal landed, the error says "interrupted", once.
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("unpacking layer 1: %w", context.Canceled), "error: unpacking layer 1: interrupted (SIGTERM)\n"},
		{fmt.Errorf("pushing: %w", errors.New("read tcp: use of closed connection")), "error: pushing: read tcp: use of closed connection: interrupted (SIGTERM)\n"},
		{fmt.Errorf("RUN sleep: %w", &signalError{sig: syscall.SIGTERM}), "error: RUN sleep: interrupted (SIGTERM)\n"},
	} {
		stderr.Reset()
		exitCode(cctx, tc.err, &stderr)
		if stderr.String() != tc.want {
			t.Errorf("%v: stderr %q, want %q", tc.err, stderr.String(), tc.want)
		}
	}
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "step: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestVersion(t *testing.T) {
	out, _, err := execute(t, "version")
	if err != nil || !strings.HasPrefix(out, "builder ") {
		t.Errorf("version: %q %v", out, err)
	}
}

// TestContextFromStdin builds examples/hello sent as a tar on stdin, in a
// sub-directory of the archive.
func TestContextFromStdin(t *testing.T) {
	archive, err := exec.Command("tar", "-C", "../../examples", "-czf", "-", "hello").Output()
	if err != nil {
		t.Skipf("tar: %v", err)
	}
	direct, _, err := execute(t, "--context", "../../examples/hello", "--no-push", "--work-dir", t.TempDir(), "--reproducible")
	if err != nil {
		t.Fatal(err)
	}
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetIn(bytes.NewReader(archive))
	cmd.SetArgs([]string{"--context", "tar://stdin", "--context-sub-path", "hello", "--no-push", "--work-dir", t.TempDir(), "--reproducible"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if out.String() != direct {
		t.Errorf("from stdin %q, from the directory %q: a reproducible build must give one digest", out.String(), direct)
	}
}

func TestCacheRepo(t *testing.T) {
	ctxDir := t.TempDir()
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	for args, want := range map[string]string{
		"--cache --destination r.example/team/app:1":                             "r.example/team/app/cache",
		"--cache --destination r.example/app:1 --cache-repo r.example/shared/ci": "r.example/shared/ci",
		"--cache --no-push --cache-repo oci:/var/cache/steps":                    "oci:/var/cache/steps",
		"--destination r.example/app:1":                                          "",
	} {
		f := parseFlags(t, append([]string{"--context", ctxDir}, strings.Fields(args)...)...)
		bo, _, err := f.options()
		if err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		got := ""
		switch c := bo.Cache.(type) {
		case *cache.Registry:
			got = c.Repo.Name()
		case *cache.Layout:
			got = "oci:" + c.Dir
		}
		if got != want {
			t.Errorf("%s: cache %q, want %q", args, got, want)
		}
	}
}

// TestDockerBuildSpellings: -t and --file are docker build's names for
// --destination and --dockerfile, and mix with them.
func TestDockerBuildSpellings(t *testing.T) {
	ctxDir := t.TempDir()
	for _, n := range []string{"Dockerfile", "Other.Dockerfile"} {
		if err := os.WriteFile(filepath.Join(ctxDir, n), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := parseFlags(t, "--context", ctxDir, "-t", "r.example/x:1", "--destination", "r.example/x:2", "--tag", "r.example/x:3",
		"--file", "Other.Dockerfile", "--metadata-file", "/tmp/md.json")
	bo, po, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"r.example/x:2", "r.example/x:1", "r.example/x:3"}, po.Destinations); diff != "" {
		t.Errorf("destinations (-want +got):\n%s", diff)
	}
	if bo.Dockerfile != filepath.Join(ctxDir, "Other.Dockerfile") || po.MetadataFile != "/tmp/md.json" {
		t.Errorf("dockerfile %q metadata file %q", bo.Dockerfile, po.MetadataFile)
	}
	f = parseFlags(t, "--context", ctxDir, "-t", "r.example/x:1", "--file", "Other.Dockerfile", "--dockerfile", "Dockerfile")
	if _, _, err := f.options(); err == nil || !strings.Contains(err.Error(), "give one") {
		t.Errorf("--file and --dockerfile both: err = %v", err)
	}
}

// TestSourceDateEpoch reads SOURCE_DATE_EPOCH from a build arg, else
// from the environment (passed on as the build arg), as buildx does.
func TestSourceDateEpoch(t *testing.T) {
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--context", ctxDir, "--no-push"}
	bo, _, err := parseFlags(t, append(base, "--build-arg", "SOURCE_DATE_EPOCH=1700000000", "--rewrite-timestamp")...).options()
	if err != nil || bo.SourceDateEpoch == nil || bo.SourceDateEpoch.Unix() != 1700000000 || !bo.RewriteTimestamp {
		t.Errorf("from the build arg: %v, %v", bo.SourceDateEpoch, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1600000000")
	bo, _, err = parseFlags(t, base...).options()
	if err != nil || bo.SourceDateEpoch == nil || bo.SourceDateEpoch.Unix() != 1600000000 || bo.BuildArgs["SOURCE_DATE_EPOCH"] != "1600000000" {
		t.Errorf("from the environment: %v, args %v, %v", bo.SourceDateEpoch, bo.BuildArgs, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, _, err := parseFlags(t, base...).options(); err == nil || !strings.Contains(err.Error(), "seconds since") {
		t.Errorf("a malformed SOURCE_DATE_EPOCH: err = %v", err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if _, _, err := parseFlags(t, append(base, "--rewrite-timestamp")...).options(); err == nil {
		t.Error("--rewrite-timestamp without SOURCE_DATE_EPOCH was accepted")
	}
}

// TestDryRunFlag prints the plan and builds nothing.
func TestDryRunFlag(t *testing.T) {
	dir, work := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch AS app\nCOPY a /a\nLABEL x=y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, progress, err := execute(t, "build", "--context", dir, "--destination", "127.0.0.1:1/never:1", "--dryrun", "--work-dir", work)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress)
	}
	if want := "stage app: FROM scratch\n  COPY a /a\n  LABEL x=y\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("a dry run wrote %v", left)
	}
}

// TestStdin reads the Dockerfile (-f -) or the context (-) from stdin, as
// docker build does, never both.
func TestStdin(t *testing.T) {
	run := func(stdin io.Reader, args ...string) (string, error) {
		t.Helper()
		cmd := newRootCmd()
		var out, errb bytes.Buffer
		cmd.SetIn(stdin)
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		cmd.SetArgs(append(args, "--no-push", "--destination", "example.com/x:1", "--work-dir", t.TempDir()))
		err := cmd.ExecuteContext(context.Background())
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, errb.String())
		}
		return out.String(), err
	}
	empty := t.TempDir() // no Dockerfile in it
	if out, err := run(strings.NewReader("FROM scratch\nLABEL from=stdin\n"), "build", "-f", "-", empty); err != nil || !strings.HasPrefix(out, "sha256:") {
		t.Errorf("-f -: %q, %v", out, err)
	}
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	df := []byte("FROM scratch\nCOPY f /f\n")
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df)), Typeflag: tar.TypeReg})
	tw.Write(df)
	tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	if out, err := run(&tarball, "build", "-"); err != nil || !strings.HasPrefix(out, "sha256:") {
		t.Errorf("context -: %q, %v", out, err)
	}
	if _, err := run(strings.NewReader(""), "build", "-f", "-", "-"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("both from stdin: %v", err)
	}
}

// TestVersionAndSuggestions: --version answers, a mistyped command gets a
// suggestion.
func TestVersionAndSuggestions(t *testing.T) {
	if out, _, err := execute(t, "--version"); err != nil || !strings.Contains(out, "builder version") {
		t.Errorf("--version: %q, %v", out, err)
	}
	if _, _, err := execute(t, "buidl"); err == nil || !strings.Contains(err.Error(), "did you mean build?") {
		t.Errorf("a mistyped command: %v", err)
	}
}

// TestBuildWithoutDestination: "builder build" without a destination
// builds and warns that nothing was pushed, as buildx; kaniko's form
// (no subcommand) still refuses.
func TestBuildWithoutDestination(t *testing.T) {
	out, progress, err := execute(t, "build", "../../examples/hello", "--work-dir", t.TempDir())
	if err != nil || !strings.HasPrefix(out, "sha256:") || !strings.Contains(progress, "the image was built and not pushed") {
		t.Errorf("builder build without a destination: %q, %v\n%s", out, err, progress)
	}
	if _, _, err := execute(t, "--context", "../../examples/hello"); err == nil || !strings.Contains(err.Error(), "no --destination given") {
		t.Errorf("kaniko's form without a destination: %v", err)
	}
}

// TestQuiet prints the result (not pushed: its digest) and nothing of
// the progress.
func TestQuiet(t *testing.T) {
	out, progress, err := execute(t, "build", "-q", "../../examples/hello", "--no-push", "--destination", "example.com/hello:1", "--work-dir", t.TempDir())
	if err != nil || !strings.HasPrefix(out, "sha256:") || strings.Contains(progress, "#") || strings.Contains(progress, "DONE") {
		t.Errorf("-q: out %q, err %v, progress:\n%s", out, err, progress)
	}
}

func TestPlainHTTPHint(t *testing.T) {
	err := errors.New(`Dockerfile:1: FROM registry.corp:5000/base:1: pulling registry.corp:5000/base:1: Get "https://registry.corp:5000/v2/": http: server gave HTTP response to HTTPS client`)
	var stderr bytes.Buffer
	exitCode(context.Background(), err, &stderr)
	if !strings.Contains(stderr.String(), "hint: registry.corp:5000 speaks plain HTTP: pass --insecure-registry registry.corp:5000") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	stderr.Reset()
	exitCode(context.Background(), errors.New("Get \"https://r/v2/\": connection refused"), &stderr)
	if strings.Contains(stderr.String(), "hint") {
		t.Errorf("a hint for another error:\n%s", stderr.String())
	}
}

// TestUnknownFlagSuggestion: a mistyped flag names the one meant, on the
// root command and on build; one far from every flag says only that it
// is unknown.
func TestUnknownFlagSuggestion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--destinaton", "r/x"}, "unknown flag: --destinaton: did you mean --destination?"},
		{[]string{"build", "--no-pussh", "."}, "unknown flag: --no-pussh: did you mean --no-push?"},
		{[]string{"build", "--dockerf=Dockerfile", "."}, "unknown flag: --dockerf: did you mean --dockerfile?"},
		{[]string{"build", "--zzzzzzzz", "."}, "unknown flag: --zzzzzzzz"},
	} {
		_, _, err := execute(t, tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestLogColours: the default log format colours levels on a terminal
// and nowhere else; text never does.
func TestLogColours(t *testing.T) {
	for _, tc := range []struct {
		format   string
		terminal bool
		want     string
	}{
		{"color", true, "level=\x1b[33mWARN\x1b[0m msg=careful"},
		{"color", false, "level=WARN msg=careful"},
		{"text", true, "level=WARN msg=careful"},
	} {
		var b bytes.Buffer
		l, err := (&buildFlags{verbosity: "info", logFormat: tc.format}).logger(&b, tc.terminal)
		if err != nil {
			t.Fatal(err)
		}
		l.Warn("careful")
		if strings.TrimSpace(b.String()) != tc.want {
			t.Errorf("%s, terminal %v: %q, want %q", tc.format, tc.terminal, b.String(), tc.want)
		}
	}
}

// TestVerbosityErrorIsQuiet: --verbosity error prints no progress, only
// the result.
func TestVerbosityErrorIsQuiet(t *testing.T) {
	out, stderr, err := execute(t, "build", "../../examples/hello", "--no-push", "--verbosity", "error", "--work-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" || !strings.HasPrefix(out, "sha256:") {
		t.Errorf("stdout %q, stderr %q", out, stderr)
	}
}

// TestCheckFlag runs the Dockerfile checks alone, as docker build --check:
// no destination needed, each warning with its rule, words and line, exit
// status 1 when there is one, nothing written.
func TestCheckFlag(t *testing.T) {
	for _, tc := range []struct {
		name, dockerfile string
		want             []string
		fails            bool
	}{
		{"clean", "FROM scratch AS a\nCOPY a /a\n", []string{"Check complete, no warnings found.\n"}, false},
		{"warnings", "FROM scratch as a\nCOPY a /a\nFROM scratch AS unused\nWORKDIR rel\n", []string{
			"Check complete, 2 warnings have been found!\n",
			"\nWARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/\n'as' and 'FROM' keywords' casing do not match\nDockerfile:1\n--------------------\n   1 | >>> FROM scratch as a\n   2 |     COPY a /a\n   3 |     FROM scratch AS unused\n--------------------\n",
			"\nWARNING: WorkdirRelativePath - ",
			"   4 | >>> WORKDIR rel\n",
		}, true},
		// Quoted as buildctl's lint quoted the same file: a range marked
		// whole, one line on each side.
		{"instruction over lines", "FROM scratch AS a\nCOPY f \\\n  /f\nCMD echo \\\n  hi\nLABEL x=y\n", []string{
			"Dockerfile:4\n--------------------\n   3 |       /f\n   4 | >>> CMD echo \\\n   5 | >>>   hi\n   6 |     LABEL x=y\n--------------------\n",
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, work := t.TempDir(), filepath.Join(t.TempDir(), "work")
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(tc.dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, err := execute(t, "build", "--context", dir, "--check", "--work-dir", work)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
			if code := exitCode(context.Background(), err, io.Discard); (code == 1) != tc.fails || (code != 0 && code != 1) {
				t.Errorf("exit status %d (%v)", code, err)
			}
			if _, err := os.Stat(work); !os.IsNotExist(err) {
				t.Errorf("a check made the work directory: %v", err)
			}
		})
	}
}
