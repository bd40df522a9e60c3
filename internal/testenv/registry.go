// Package testenv starts the real parts the integration tests and the
// benchmarks use: Debian's docker-registry on loopback, base images made by
// independent tools (busybox-static and debootstrap with umoci and skopeo)
// and buildah as the reference builder.
package testenv

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// StartRegistry runs docker-registry on a free loopback port; with an
// htpasswd file it asks for basic auth.
func StartRegistry(dir, htpasswd string) (string, func(), error) {
	return StartRegistryTLS(dir, htpasswd, "", "")
}

// StartRegistryTLS is StartRegistry serving HTTPS with cert and key.
func StartRegistryTLS(dir, htpasswd, cert, key string) (string, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	cfg := fmt.Sprintf(`version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}
http: {addr: %s, secret: test-secret}
`, filepath.Join(dir, "data"), addr)
	if htpasswd != "" {
		cfg += fmt.Sprintf("auth: {htpasswd: {realm: test, path: %s}}\n", htpasswd)
	}
	scheme, client := "http", http.DefaultClient
	if cert != "" {
		cfg = strings.Replace(cfg, "secret: test-secret}", fmt.Sprintf("secret: test-secret, tls: {certificate: %s, key: %s}}", cert, key), 1)
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(scheme + "://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (htpasswd != "" && resp.StatusCode == http.StatusUnauthorized) {
				return addr, stop, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", stop, errors.New("the registry did not answer /v2/ within 10s")
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
