package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// tarBytes makes a tar with a directory, a file and a "." entry.
func tarBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o700},
		{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 5},
		{Name: "pkg/file", Typeflag: tar.TypeReg, Mode: 0o600, Size: 4, Uid: 5, Gid: 6},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("data"))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func compress(t *testing.T, kind string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch kind {
	case "gz":
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case "xz":
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "zst":
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	default:
		return data
	}
	return buf.Bytes()
}

func TestAddArchives(t *testing.T) {
	plain := tarBytes(t)
	for _, kind := range []string{"tar", "gz", "xz", "zst"} {
		t.Run(kind, func(t *testing.T) {
			// The name says nothing: the content is what counts.
			files := map[string]string{"payload.bin": string(compress(t, kind, plain)), "notatar.tar.gz": "just text"}
			df := "FROM scratch\nADD payload.bin /opt/\nADD notatar.tar.gz /raw/\nADD --chown=1:2 payload.bin /owned\nCOPY payload.bin /copied\n"
			res := mustBuildIn(t, df, files)
			got := summary(t, res, "opt", "opt/pkg", "opt/pkg/file", "raw/notatar.tar.gz", "owned/pkg/file", "copied")
			want := map[string]string{
				"opt":                "5 0755 0:0", // the archive's "." does not change the destination
				"opt/pkg":            "5 0755 5:0",
				"opt/pkg/file":       "0 0600 5:6 data",
				"raw/notatar.tar.gz": "0 0644 0:0 just text",
				"owned/pkg/file":     "0 0600 1:2 data",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if !strings.HasPrefix(got["copied"], "0 0644 0:0 ") {
				t.Errorf("COPY must not unpack: %q", got["copied"])
			}
		})
	}
}

func TestAddURL(t *testing.T) {
	modified := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	var neverAsked atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/never" {
			neverAsked.Store(true)
		}
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		w.Write(compress(t, "gz", tarBytes(t)))
	}))
	defer srv.Close()
	sum := sha256.Sum256(compress(t, "gz", tarBytes(t)))
	df := "FROM scratch\nADD " + srv.URL + "/dl/archive.tar.gz /downloads/\nADD --checksum=sha256:" + hex.EncodeToString(sum[:]) + " " + srv.URL + "/x /checked\n" +
		"ADD --unpack=true " + srv.URL + "/dl/archive.tar.gz /unpacked/\n"
	res := mustBuildIn(t, df, map[string]string{})
	fs := flatten(t, res.Image)
	if e := fs["unpacked/pkg/file"]; e.Body != "data" || e.UID != 5 {
		t.Errorf("ADD --unpack=true of a URL: unpacked/pkg/file = %+v, want the archive's file", e)
	}
	e := fs["downloads/archive.tar.gz"]
	if e.Mode != 0o600 || !e.ModTime.Equal(modified) || e.Type != tar.TypeReg {
		t.Errorf("download: mode %o mtime %v type %q; want 0600, Last-Modified, a plain (not unpacked) file", e.Mode, e.ModTime, e.Type)
	}
	if _, ok := fs["checked"]; !ok {
		t.Error("the checksummed download is missing")
	}
	for name, tt := range map[string]struct{ df, want string }{
		"bad checksum": {"ADD --checksum=sha256:" + strings.Repeat("0", 64) + " " + srv.URL + "/x /y", "checksum mismatch"},
		"not found":    {"ADD " + srv.URL + "/missing /y", "404"},
		// Malformed checksums fail before anything is downloaded.
		"no algorithm":      {"ADD --checksum=abc " + srv.URL + "/never /y", "invalid checksum digest format"},
		"unknown algorithm": {"ADD --checksum=md5:" + strings.Repeat("0", 32) + " " + srv.URL + "/never /y", "unsupported digest algorithm"},
		"sha512":            {"ADD --checksum=sha512:" + strings.Repeat("0", 128) + " " + srv.URL + "/never /y", "ADD --checksum takes sha256"},
		"short":             {"ADD --checksum=sha256:abc " + srv.URL + "/never /y", "invalid checksum digest length"},
		"not hex":           {"ADD --checksum=sha256:" + strings.Repeat("g", 64) + " " + srv.URL + "/never /y", "invalid checksum digest format"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := buildIn(t, "FROM scratch\n"+tt.df+"\n", map[string]string{})
			if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: ADD ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if neverAsked.Load() {
		t.Error("a malformed checksum was found only after the download")
	}
}

// TestAddURLRetries: ADD of a URL is retried like a base image's layers
// (a server failing twice, then answering), but an answer another try
// would not change (404) fails at once.
func TestAddURLRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case r.URL.Path == "/gone":
			http.NotFound(w, r)
		case n <= 2:
			http.Error(w, "try later", http.StatusServiceUnavailable)
		default:
			w.Write([]byte("third time\n"))
		}
	}))
	defer srv.Close()
	retries := func(o *Options) { o.PullRetries, o.PullRetryWait = 3, time.Millisecond }
	res := mustBuildIn(t, "FROM scratch\nADD "+srv.URL+"/flaky /f\n", map[string]string{}, retries)
	if got := flatten(t, res.Image)["f"].Body; got != "third time\n" || calls.Load() != 3 {
		t.Errorf("f = %q after %d calls; want the third answer", got, calls.Load())
	}
	calls.Store(0)
	_, err := buildIn(t, "FROM scratch\nADD "+srv.URL+"/gone /g\n", map[string]string{}, retries)
	if err == nil || !strings.Contains(err.Error(), "404") || calls.Load() != 1 {
		t.Errorf("err = %v after %d calls; want a 404 at the first", err, calls.Load())
	}
}
