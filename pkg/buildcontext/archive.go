package buildcontext

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/buildcrew/builder/pkg/layers"
)

// untar unpacks a tar stream, compressed (recognized by content) or not,
// into dir with the same path-safety as image layers: nothing lands
// outside dir.
func untar(ctx context.Context, r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	in, closeIn, err := layers.Decompressor(r)
	if err != nil {
		return fmt.Errorf("reading the compressed archive: %w", err)
	}
	defer closeIn()
	if err := layers.Extract(ctx, dir, in, layers.ExtractOptions{}); err != nil {
		return fmt.Errorf("unpacking the archive: %w", err)
	}
	return nil
}

// download fetches a tar archive over https and unpacks it.
func download(ctx context.Context, url string, opts Options) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client, err := httpClient(opts)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return untar(ctx, resp.Body, opts.Dir)
}

func httpClient(opts Options) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	cfg := &tls.Config{InsecureSkipVerify: opts.InsecureSkipTLS} //nolint:gosec // the user asked for it
	if len(opts.CABundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(opts.CABundle) {
			return nil, fmt.Errorf("no certificate in the CA bundle")
		}
		cfg.RootCAs = pool
	}
	t.TLSClientConfig = cfg
	return &http.Client{Transport: t}, nil
}
