package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// gomodRows builds the gomod workload (Docker's Go guide: modules and the
// build cache on cache mounts) as two CI jobs on fresh runners do: each
// on an empty work directory and an empty cache-mount directory, sharing
// only the cache repository (an OCI layout). Without
// --export-cache-mounts the second job downloads every module and
// compiles everything again; with it, the mounts come back from the cache
// repository. Both jobs run every step (--no-cache). The module proxy is
// reached through a proxy on loopback that counts the bytes it serves.
func (e *env) gomodRows(dir string) (string, error) {
	upstream, err := moduleProxy()
	if err != nil {
		return "", err
	}
	served, stop, err := countingProxy(upstream)
	if err != nil {
		return "", err
	}
	defer stop()
	golang, err := e.golangBase()
	if err != nil {
		return "", err
	}
	ref := e.registry + "/bench/gomod:ours"
	var rows strings.Builder
	for _, export := range []bool{false, true} {
		repo := "oci:" + filepath.Join(e.tmp, fmt.Sprintf("gomod-cache-%v", export))
		var jobs []measure
		var bytes []int64
		for i := range 2 {
			mounts := filepath.Join(e.tmp, fmt.Sprintf("gomod-mounts-%v-%d", export, i))
			extra := []string{"--build-arg", "GOLANG=" + golang, "--build-arg", "GOPROXY=" + served.url,
				"--cache", "--cache-repo", repo, "--no-cache", "--cache-mount-dir", mounts}
			if export {
				extra = append(extra, "--export-cache-mounts")
			}
			before := served.n.Load()
			m, err := e.buildOurs(dir, ref, extra)
			if err != nil {
				return "", fmt.Errorf("job %d (export %v): %w", i+1, export, err)
			}
			jobs, bytes = append(jobs, m), append(bytes, served.n.Load()-before)
		}
		name := "gomod, fresh runners: 2nd job"
		if export {
			name += ", --export-cache-mounts"
		}
		second := jobs[1]
		fmt.Fprintf(&rows, "| %s | %.2fs | | | | | %.2f of the 1st (%.2fs) | | | %s; %d KB from the module proxy (1st job %d KB) | %d MB |\n",
			name, second.wall.Seconds(), second.wall.Seconds()/jobs[0].wall.Seconds(), jobs[0].wall.Seconds(),
			second.phaseString(), bytes[1]>>10, bytes[0]>>10, second.rssMB)
	}
	return rows.String(), nil
}

// moduleProxy is the first module proxy `go env GOPROXY` names.
func moduleProxy() (*url.URL, error) {
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOPROXY: %w", err)
	}
	for _, p := range strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == ',' || r == '|' }) {
		if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
			return url.Parse(p)
		}
	}
	return nil, fmt.Errorf("GOPROXY %q names no module proxy", strings.TrimSpace(string(out)))
}

// proxyCounter is a module proxy on loopback forwarding to another and
// counting the bytes of its answers.
type proxyCounter struct {
	url string
	n   atomic.Int64
}

func countingProxy(upstream *url.URL) (*proxyCounter, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	c := &proxyCounter{url: "http://" + l.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(upstream)
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		direct(r)
		r.Host = upstream.Host
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		resp.Body = countedBody{resp.Body, &c.n}
		return nil
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(l)
	return c, func() { srv.Close() }, nil
}

type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
