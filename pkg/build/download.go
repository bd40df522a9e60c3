package build

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/buildcrew/builder/pkg/copier"
)

// download fetches an ADD URL to dest: mode 0600, the Last-Modified time as
// its mtime, checked against --checksum when given. It is unpacked only
// with ADD --unpack=true and when it is an archive, as in BuildKit.
func (b *builder) download(ctx context.Context, cp *copier.Copier, rawURL, dest string, sum *checksum, unpack bool) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parsing %q: %w", rawURL, err)
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" || name == "" {
		name = "__unnamed__"
	}
	tmp, err := os.CreateTemp(filepath.Join(b.work, "tmp"), "download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var h hash.Hash
	to := io.Writer(tmp)
	if sum != nil {
		h = sha256.New()
		to = io.MultiWriter(tmp, h)
	}
	var lastModified string
	var final error // an answer that another try would not change
	// As base image layers are: retried with the build's pull retries.
	err = b.retryPull(ctx, "downloading "+rawURL, func() error {
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if h != nil {
			h.Reset()
		}
		var err error
		lastModified, err = fetch(ctx, b.downloads, rawURL, to)
		var se statusError
		if errors.As(err, &se) && se.code < 500 && se.code != http.StatusTooManyRequests {
			final = err
			return nil
		}
		return err
	})
	if err == nil {
		err = final
	}
	if err != nil {
		return fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	if sum != nil {
		if err := sum.check(h, rawURL); err != nil {
			return err
		}
	}
	if unpack {
		if ok, err := cp.UnpackArchive(ctx, tmp.Name(), dest); ok || err != nil {
			return err
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	mtime := time.Now()
	if lm := lastModified; lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			mtime = t
		}
	}
	return cp.WriteFile(dest, name, tmp, 0o600, mtime)
}

// newDownloadClient is the client ADD's URLs are fetched with: the
// environment's proxy settings (as http.DefaultTransport's), and a bound
// on the wait for an answer, so a server that accepts and says nothing
// fails the step.
func newDownloadClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 2 * time.Minute
	return &http.Client{Transport: t}
}

// statusError is a server's answer other than 200 OK.
type statusError struct {
	code   int
	status string
}

func (e statusError) Error() string { return e.status }

// fetch writes what rawURL serves to w and returns its Last-Modified.
func fetch(ctx context.Context, client *http.Client, rawURL string, w io.Writer) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", statusError{code: resp.StatusCode, status: resp.Status}
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return "", err
	}
	return resp.Header.Get("Last-Modified"), nil
}
