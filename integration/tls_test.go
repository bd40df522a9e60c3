package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
)

// TestSelfSignedRegistry pulls from and pushes to a registry whose
// certificate nobody signed: refused by default, accepted with
// --skip-tls-verify-pull and --skip-tls-verify, each for its own direction.
func TestSelfSignedRegistry(t *testing.T) {
	needs(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	run(t, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", key, "-out", cert,
		"-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
	addr, stop, err := testenv.StartRegistryTLS(filepath.Join(dir, "registry"), "", cert, key)
	if stop != nil {
		defer stop()
	}
	if err != nil {
		t.Fatal(err)
	}
	base := addr + "/tls/busybox:1"
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+env.busybox, "docker://"+base)
	ctxDir := writeContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo over tls > /f\n"})
	dest := addr + "/tls/app:1"

	tests := []struct {
		name  string
		flags []string
		fails string // "" when the build must succeed
	}{
		{"verified pull fails", nil, "certificate"},
		{"verified push fails", []string{"--skip-tls-verify-pull"}, "certificate"},
		{"push flag does not skip pull checks", []string{"--skip-tls-verify"}, "certificate"},
		{"both skipped", []string{"--skip-tls-verify-pull", "--skip-tls-verify"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--context", ctxDir, "--destination", dest}, tt.flags...)
			r := runBuilder(t, ctxDir, nil, args...)
			if tt.fails == "" {
				if r.code != 0 {
					t.Fatalf("exit %d:\n%s", r.code, r.stderr)
				}
				run(t, "skopeo", "inspect", "--tls-verify=false", "docker://"+dest)
				return
			}
			if r.code == 0 || !strings.Contains(r.stderr, tt.fails) || !strings.Contains(r.stderr, addr) {
				t.Errorf("exit %d, want a failure naming %s and the %s:\n%s", r.code, addr, tt.fails, r.stderr)
			}
		})
	}
}

// TestPrivateCARegistry pulls from and pushes to a registry whose
// certificate a private CA (made here with openssl) signed: refused
// without the CA, verified with --registry-certificate REGISTRY=CA_FILE.
func TestPrivateCARegistry(t *testing.T) {
	needs(t)
	addr, ca := privateCARegistry(t, "")
	base := addr + "/ca/busybox:1"
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-cert-dir", dirWith(t, ca), "docker://"+env.busybox, "docker://"+base)
	ctxDir := writeContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo private ca > /f\n"})
	dest := addr + "/ca/app:1"
	if r := runBuilder(t, ctxDir, nil, "--context", ctxDir, "--destination", dest); r.code == 0 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("without the CA: exit %d\n%s", r.code, r.stderr)
	}
	mustBuild(t, ctxDir, "--context", ctxDir, "--destination", dest, "--registry-certificate", addr+"="+ca)
	run(t, "skopeo", "inspect", "--cert-dir", dirWith(t, ca), "docker://"+dest)
}

// privateCARegistry starts a registry of its own (stopped when the test
// ends) serving TLS with a certificate for 127.0.0.1 that a private CA,
// made here with openssl, signed; with an htpasswd file it also wants
// basic auth. It returns the registry's address and the CA's file.
func privateCARegistry(t *testing.T, htpasswd string) (addr, ca string) {
	t.Helper()
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	run(t, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", p("ca.key"), "-out", p("ca.pem"), "-subj", "/CN=test CA")
	run(t, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("srv.key"), "-out", p("srv.csr"), "-subj", "/CN=127.0.0.1")
	if err := os.WriteFile(p("ext.cnf"), []byte("subjectAltName=IP:127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "openssl", "x509", "-req", "-in", p("srv.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial",
		"-out", p("srv.pem"), "-days", "2", "-extfile", p("ext.cnf"))
	addr, stop, err := testenv.StartRegistryTLS(p("registry"), htpasswd, p("srv.pem"), p("srv.key"))
	if stop != nil {
		t.Cleanup(stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return addr, p("ca.pem")
}

// dirWith makes a directory holding a CA file as skopeo's --cert-dir
// wants it (NAME.crt).
func dirWith(t *testing.T, ca string) string {
	t.Helper()
	d := t.TempDir()
	data, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "ca.crt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}
