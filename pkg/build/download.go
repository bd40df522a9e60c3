package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// download fetches an ADD URL to dest: mode 0600, the Last-Modified time as
// its mtime, never unpacked, checked against --checksum when given.
func (b *builder) download(ctx context.Context, cp *copier, rawURL, dest, checksum string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parsing %q: %w", rawURL, err)
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" || name == "" {
		name = "__unnamed__"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading %s: %s", rawURL, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Join(b.work, "tmp"), "download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		return fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	if checksum != "" {
		want, ok := strings.CutPrefix(checksum, "sha256:")
		got := hex.EncodeToString(h.Sum(nil))
		if !ok || want != got {
			return fmt.Errorf("checksum mismatch for %s: got sha256:%s, want %s", rawURL, got, checksum)
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	mtime := time.Now()
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			mtime = t
		}
	}
	target, err := cp.fileTarget(dest, name)
	if err != nil {
		return err
	}
	return cp.writeFile(target, tmp, 0o600, mtime)
}
