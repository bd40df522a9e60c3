package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/buildcrew/builder/internal/testenv"
)

// realWorldContext copies testdata/realworld/NAME into a directory of the
// test's own, with this machine's CA bundle beside it where the
// Dockerfile copies one.
func realWorldContext(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "realworld", name))); err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(df), "ca-certificates.crt") {
		ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
		if err != nil {
			t.Skipf("no CA bundle on this machine for the base's TLS: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ca-certificates.crt"), ca, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// goToolchain pushes the Go toolchain base made from this machine's Go.
func goToolchain(t *testing.T) string {
	t.Helper()
	layout, err := testenv.GoToolchainLayout()
	if err != nil {
		t.Fatalf("making the Go toolchain base: %v", err)
	}
	ref := env.registry + "/golang:test"
	if err := testenv.PushLayout(layout, ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// goEnvArgs passes this machine's Go proxy and checksum database to the
// build, as build args (they name no registry here).
func goEnvArgs(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOPROXY", "GOSUMDB").Output()
	if err != nil {
		t.Fatal(err)
	}
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(v) != 2 {
		t.Fatalf("go env: %q", out)
	}
	return []string{"--build-arg", "GOPROXY=" + v[0], "--build-arg", "GOSUMDB=" + v[1]}
}

// stepSeconds is how long the step whose progress name contains name
// took, from the plain progress ("#N name" ... "#N DONE 1.2s").
func stepSeconds(t *testing.T, progress, name string) float64 {
	t.Helper()
	start := regexp.MustCompile(`(?m)^#(\d+) (.*)$`)
	for _, m := range start.FindAllStringSubmatch(progress, -1) {
		if !strings.Contains(m[2], name) {
			continue
		}
		done := regexp.MustCompile(`(?m)^#` + m[1] + ` DONE (\d+\.\d+)s$`).FindStringSubmatch(progress)
		if done == nil {
			t.Fatalf("step %q (#%s) has no DONE line", name, m[1])
		}
		s, _ := strconv.ParseFloat(done[1], 64)
		return s
	}
	t.Fatalf("no step %q in:\n%s", name, tail(progress, 30))
	return 0
}

// fileIs checks that the pulled image holds path with exactly want.
func fileIs(t *testing.T, p *pulled, path, want string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(p.rootfs, path))
	if err != nil || string(got) != want {
		t.Errorf("%s: %q (%v), want %q", path, got, err, want)
	}
}

// absent checks that none of paths is in the pulled image.
func absent(t *testing.T, p *pulled, paths ...string) {
	t.Helper()
	for _, path := range paths {
		if _, ok := p.tree[path]; ok {
			t.Errorf("%s should not be in the image", path)
		}
	}
}

// TestRealWorld builds the corpus in testdata/realworld, Dockerfiles as
// Docker's guides write them, and checks what each one made.
func TestRealWorld(t *testing.T) {
	needs(t)
	bases := []string{"--build-arg", "BUSYBOX=" + env.busybox}
	buildIn := func(t *testing.T, ctx, name, tag string, args ...string) (*pulled, result) {
		t.Helper()
		ref := env.registry + "/realworld/" + name + ":" + tag
		r := mustBuild(t, ctx, append(append([]string{"--context", ctx, "--destination", ref}, bases...), args...)...)
		return fetch(t, ref), r
	}
	build := func(t *testing.T, name, tag string, args ...string) (*pulled, result) {
		t.Helper()
		return buildIn(t, realWorldContext(t, name), name, tag, args...)
	}

	t.Run("01-go-modules", func(t *testing.T) {
		// Built twice on empty work directories sharing one cache-mount
		// directory, as two CI jobs on one runner: the second downloads
		// no module and compiles from the cache.
		mounts := t.TempDir()
		args := append([]string{"--build-arg", "GO=" + goToolchain(t), "--cache-mount-dir", mounts}, goEnvArgs(t)...)
		var runs []result
		for i := range 2 {
			_, r := build(t, "01-go-modules", fmt.Sprint(i), args...)
			runs = append(runs, r)
		}
		gets := regexp.MustCompile(`(?m)# get https?://`)
		if n := len(gets.FindAllString(runs[0].stderr, -1)); n == 0 {
			t.Errorf("the first build downloaded nothing:\n%s", tail(runs[0].stderr, 30))
		}
		if n := len(gets.FindAllString(runs[1].stderr, -1)); n != 0 {
			t.Errorf("the second build downloaded %d files:\n%s", n, tail(runs[1].stderr, 30))
		}
		first, second := stepSeconds(t, runs[0].stderr, "[build 5/5] RUN"), stepSeconds(t, runs[1].stderr, "[build 5/5] RUN")
		t.Logf("go build: %.1fs with an empty cache, %.1fs from the cache mount", first, second)
		if out, code := runImage(t, env.registry+"/realworld/01-go-modules:1"); code != 0 || out != "changed: true\n" {
			t.Errorf("running the server: exit %d, %q", code, out)
		}
		p := fetch(t, env.registry+"/realworld/01-go-modules:1")
		absent(t, p, "/go", "/root/.cache", "/src")
	})

	t.Run("02-apt-cache-locked", func(t *testing.T) {
		mounts := t.TempDir()
		args := []string{"--build-arg", "DEBIAN=" + debianBase(t), "--cache-mount-dir", mounts}
		_, first := build(t, "02-apt-cache-locked", "0", args...)
		p, second := build(t, "02-apt-cache-locked", "1", args...)
		debs := regexp.MustCompile(`(?m)Get:\d+ \S+ \S+ \S+ jq `)
		if !debs.MatchString(first.stderr) || debs.MatchString(second.stderr) {
			t.Errorf("jq's package should download in the first build only:\nfirst:\n%s\nsecond:\n%s", tail(first.stderr, 20), tail(second.stderr, 20))
		}
		fileIs(t, p, "/answer", "42\n")
		for path := range p.tree {
			if strings.HasPrefix(path, "/var/cache/apt/archives/") && strings.HasSuffix(path, ".deb") {
				t.Errorf("%s: the cache mount's contents reached the image", path)
			}
		}
	})

	t.Run("03-secret-and-ssh", func(t *testing.T) {
		const token = "tok-1234567890"
		secret := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(secret, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		sock := startSSHAgent(t)
		p, r := build(t, "03-secret-and-ssh", "1", "--secret", "id=api_token,src="+secret, "--ssh", "default="+sock)
		fileIs(t, p, "/token-length", fmt.Sprintf("%d\n", len(token)))
		fileIs(t, p, "/token-file-length", fmt.Sprintf("%d\n", len(token)))
		fileIs(t, p, "/optional", "optional\n")
		if got, _ := os.ReadFile(filepath.Join(p.rootfs, "ssh")); !strings.HasPrefix(string(got), "agent at /run/buildkit/ssh_agent.") {
			t.Errorf("/ssh: %q", got)
		}
		absent(t, p, "/run/secrets/api_token", "/run/buildkit")
		if strings.Contains(r.stderr+r.stdout, token) {
			t.Error("the secret appears in the output")
		}
		for path := range p.tree {
			if data, _ := os.ReadFile(filepath.Join(p.rootfs, path)); strings.Contains(string(data), token) {
				t.Errorf("%s holds the secret", path)
			}
		}
	})

	t.Run("04-bind-from-stage", func(t *testing.T) {
		p, _ := build(t, "04-bind-from-stage", "1")
		fileIs(t, p, "/www/index.html", "<html>hi</html>\n")
		fileIs(t, p, "/www/css-bytes", "7\n")
		absent(t, p, "/src", "/assets")
	})

	t.Run("05-copy-parents-monorepo", func(t *testing.T) {
		p, _ := build(t, "05-copy-parents-monorepo", "1")
		fileIs(t, p, "/manifests", "./libs/util/package.json\n./services/api/package.json\n./services/web/package.json\n")
		fileIs(t, p, "/app/services/api/src/main.js", "console.log(\"api\")\n")
		absent(t, p, "/app/package.json", "/app/services/web/index.html", "/app/src")
	})

	t.Run("06-copy-link-rebase", func(t *testing.T) {
		// The same COPY --link over two bases: one layer, byte for byte.
		deb := debianBase(t)
		ctx := realWorldContext(t, "06-copy-link-rebase")
		var linked []string
		for i, base := range []string{env.busybox, deb} {
			p, _ := buildIn(t, ctx, "06-copy-link-rebase", fmt.Sprint(i), "--build-arg", "BASE="+base)
			fileIs(t, p, "/seen", "1.4.0\n")
			baseLayers := len(inspect(t, base, false)["Layers"].([]any))
			layers := inspect(t, env.registry+"/realworld/06-copy-link-rebase:"+fmt.Sprint(i), false)["Layers"].([]any)
			linked = append(linked, layers[baseLayers].(string))
		}
		if linked[0] != linked[1] {
			t.Errorf("the --link layer differs between bases: %s and %s", linked[0], linked[1])
		}
	})

	t.Run("07-add-git", func(t *testing.T) {
		repo, base := serveGitRepo(t, map[string]string{"VERSION": "1.0.0\n", "README": "app\n"}, "v1")
		check := func(t *testing.T, p *pulled) {
			t.Helper()
			fileIs(t, p, "/version", "1.0.0\n")
			fileIs(t, p, "/src/README", "app\n")
			absent(t, p, "/src/.git")
		}
		p, _ := build(t, "07-add-git", "1", "--build-arg", "REPO="+repo)
		check(t, p)
		// Over ssh, with the key in the user's ssh-agent and the host in
		// known_hosts, as git does: ssh:// with a port, and the scp-like
		// git@host:path where port 22 is free to serve it.
		sock := startSSHAgent(t)
		for _, tc := range []struct{ name, listen, url string }{
			{"ssh URL", "127.0.0.1:0", "ssh://git@%s/app.git"},
			{"scp-like", "127.0.0.1:22", "git@127.0.0.1:app.git"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				addr, known, err := serveGitSSH(t, base, tc.listen, sock)
				if err != nil {
					t.Skipf("cannot serve ssh on %s: %v", tc.listen, err)
				}
				url := tc.url
				if strings.Contains(url, "%s") {
					url = fmt.Sprintf(url, addr)
				}
				ctx := realWorldContext(t, "07-add-git")
				ref := env.registry + "/realworld/07-add-git:ssh"
				r := runBuilder(t, ctx, []string{"SSH_AUTH_SOCK=" + sock, "SSH_KNOWN_HOSTS=" + known},
					append([]string{"--context", ctx, "--destination", ref, "--build-arg", "REPO=" + url}, bases...)...)
				if r.code != 0 {
					t.Fatalf("ADD %s: exit %d\n%s", url, r.code, tail(r.stderr, 20))
				}
				check(t, fetch(t, ref))
			})
		}
	})

	t.Run("08-healthcheck", func(t *testing.T) {
		p, _ := build(t, "08-healthcheck", "1")
		hc, _ := p.config.Config["Healthcheck"].(map[string]any)
		want := map[string]float64{"Interval": 30e9, "Timeout": 3e9, "StartPeriod": 10e9, "StartInterval": 1e9, "Retries": 3}
		for k, v := range want {
			if got, _ := hc[k].(float64); got != v {
				t.Errorf("Healthcheck.%s = %v, want %v (config %v)", k, hc[k], v, hc)
			}
		}
		if test := jsonOf(hc["Test"]); test != `["CMD-SHELL","wget -q -O- http://localhost:8080/health || exit 1"]` {
			t.Errorf("Healthcheck.Test = %s", test)
		}
	})

	t.Run("09-heredocs", func(t *testing.T) {
		p, _ := build(t, "09-heredocs", "1")
		fileIs(t, p, "/etc/app/app.conf", "mode=production\nworkers=4\n")
		fileIs(t, p, "/etc/app/motd", "Welcome to the app\n")
		fileIs(t, p, "/started", "starting with 2 settings\n")
		if n := p.tree["/usr/local/bin/start"]; n.Mode != "0755" {
			t.Errorf("/usr/local/bin/start mode %s", n.Mode)
		}
	})

	t.Run("10-nonroot-user", func(t *testing.T) {
		p, _ := build(t, "10-nonroot-user", "1")
		id, _ := os.ReadFile(filepath.Join(p.rootfs, "home/app/id.txt"))
		if !strings.HasPrefix(string(id), "uid=1001(app) gid=1001(app) groups=") || !strings.Contains(string(id), "29(audio)") {
			t.Errorf("id as the user: %q", id)
		}
		if n := p.tree["/home/app/owned"]; n.Owner != "1001:1001" {
			t.Errorf("a file the user made is owned by %s", n.Owner)
		}
	})

	t.Run("11-tmpfs-and-cache", func(t *testing.T) {
		mounts := t.TempDir()
		for i, want := range []string{"0\n", "1\n"} {
			p, _ := build(t, "11-tmpfs-and-cache", fmt.Sprint(i), "--cache-mount-dir", mounts)
			fileIs(t, p, "/seen-before", want)
			absent(t, p, "/tmp/scratch", "/var/cache/build/count")
		}
	})

	t.Run("13-node-npm-ci", func(t *testing.T) {
		// Built twice on empty work directories sharing the cache-mount
		// directory: the second npm ci finds every package in its cache.
		args := append([]string{"--build-arg", "NODE=" + nodeBase(t), "--cache-mount-dir", t.TempDir()}, npmRegistryArgs()...)
		var runs []result
		for i := range 2 {
			_, r := build(t, "13-node-npm-ci", fmt.Sprint(i), args...)
			runs = append(runs, r)
		}
		misses := regexp.MustCompile(`(?m)http fetch GET 200 \S+ .*\(cache miss\)`)
		if !misses.MatchString(runs[0].stderr) || misses.MatchString(runs[1].stderr) {
			t.Errorf("npm's cache should miss in the first build only:\nfirst:\n%s\nsecond:\n%s", tail(runs[0].stderr, 15), tail(runs[1].stderr, 15))
		}
		// One unpacking of the 200 MB image: run it and look around.
		ref := env.registry + "/realworld/13-node-npm-ci:1"
		look := "node server.js; test -f node_modules/ms/package.json && echo installed; " +
			"test -e /root/.npm || echo no-npm-cache; test -e Dockerfile || echo no-dockerfile"
		want := "172800000\ninstalled\nno-npm-cache\nno-dockerfile\n"
		if out, code := runImage(t, ref, "/bin/sh", "-c", look); code != 0 || out != want {
			t.Errorf("in the image: exit %d, %q, want %q", code, out, want)
		}
	})

	t.Run("12-static-scratch", func(t *testing.T) {
		p, _ := build(t, "12-static-scratch", "1", "--build-arg", "GO="+goToolchain(t))
		if p.config.Config["User"] != "65532:65532" {
			t.Errorf("User = %v", p.config.Config["User"])
		}
		if len(p.tree) > 6 {
			t.Errorf("a scratch image holds more than the binary and certificates: %v", keys(p.tree))
		}
		out, code := runImage(t, env.registry+"/realworld/12-static-scratch:1")
		if code != 0 || out != "uid 65532 certs true\n" {
			t.Errorf("running it: exit %d, %q", code, out)
		}
	})
}

// startSSHAgent starts ssh-agent with a new key and returns its socket.
func startSSHAgent(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		t.Skip("ssh-agent is not installed (openssh-client)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitUntil(t, 10*time.Second, "ssh-agent made no socket", func() error {
		_, err := os.Stat(sock)
		return err
	})
	key := filepath.Join(dir, "id_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	return sock
}

// serveGitRepo makes a repository app.git holding files, tagged tag, and
// serves it with git daemon on loopback; it returns the repository's
// git:// URL and the directory that holds it.
func serveGitRepo(t *testing.T, files map[string]string, tag string) (string, string) {
	t.Helper()
	base := t.TempDir()
	work := filepath.Join(base, "app.git")
	if err := testenv.WriteFiles(work, 0o644, files); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", work, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "v1")
	git("tag", tag)
	if err := os.WriteFile(filepath.Join(work, ".git", "git-daemon-export-ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	daemon := exec.Command("git", "daemon", "--reuseaddr", "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), "--base-path="+base, base)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	waitUntil(t, 10*time.Second, "git daemon does not listen", func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err
	})
	return fmt.Sprintf("git://127.0.0.1:%d/app.git", port), base
}

// nodeBase is the Debian test base with Debian's nodejs and npm, built
// by the builder the first time (two minutes: some three hundred
// packages) and kept beside the Debian base.
func nodeBase(t *testing.T) string {
	t.Helper()
	ref := env.registry + "/library/node:debian"
	layout := filepath.Join(testenv.DebianCacheDir(), "node-debian-bookworm-"+runtime.GOARCH)
	if _, err := os.Stat(filepath.Join(layout, "index.json")); err == nil {
		if err := testenv.PushLayout(layout, ref); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	ctx := writeContext(t, map[string]string{"Dockerfile": "ARG DEBIAN\nFROM $DEBIAN\n" +
		"RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm ca-certificates && rm -rf /var/lib/apt/lists/*\n"})
	mustBuild(t, ctx, "--context", ctx, "--destination", ref, "--build-arg", "DEBIAN="+debianBase(t))
	part := layout + ".part"
	os.RemoveAll(part)
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "oci:"+part+":latest")
	if err := os.Rename(part, layout); err != nil {
		t.Fatal(err)
	}
	return ref
}

// npmRegistryArgs passes the npm registry this machine's npm is
// configured with, if it has npm; else npm's own default applies.
func npmRegistryArgs() []string {
	out, err := exec.Command("npm", "config", "get", "registry").Output()
	if reg := strings.TrimSpace(string(out)); err == nil && strings.HasPrefix(reg, "http") {
		return []string{"--build-arg", "NPM_CONFIG_REGISTRY=" + reg}
	}
	return nil
}
