package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// files is the HTTP server that ADD URL cases download from.
var files struct {
	url        string
	fileSHA    string // sha256:... of /file.txt
	fileSHA512 string // sha512:... of /file.txt
}

const fileBody = "downloaded\n"

var fileModified = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func serveFiles(t *testing.T) func() {
	t.Helper()
	var archive bytes.Buffer
	gz := gzip.NewWriter(&archive)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "inside", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("in\n"))
	tw.Close()
	gz.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/file.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", fileModified.Format(http.TimeFormat))
		w.Write([]byte(fileBody))
	})
	mux.HandleFunc("/archive.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Write(archive.Bytes())
	})
	s := httptest.NewServer(mux)
	sum := sha256.Sum256([]byte(fileBody))
	sum512 := sha512.Sum512([]byte(fileBody))
	files.url, files.fileSHA = s.URL, "sha256:"+hex.EncodeToString(sum[:])
	files.fileSHA512 = "sha512:" + hex.EncodeToString(sum512[:])
	return s.Close
}
