package buildcontext

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// files lists the regular files under dir with their contents.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tarball(t *testing.T, compress bool, contents map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var gz *gzip.Writer
	tw := tar.NewWriter(w)
	if compress {
		gz = gzip.NewWriter(w)
		tw = tar.NewWriter(gz)
	}
	names := make([]string, 0, len(contents))
	for n := range contents {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(contents[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(contents[n]))
	}
	tw.Close()
	if gz != nil {
		gz.Close()
	}
	return buf.Bytes()
}

func TestFetchArchives(t *testing.T) {
	contents := map[string]string{"Dockerfile": "FROM scratch\n", "app/main.go": "package main\n"}
	gzFile := filepath.Join(t.TempDir(), "context.tar.gz")
	if err := os.WriteFile(gzFile, tarball(t, true, contents), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(tarball(t, true, contents))
	}))
	defer srv.Close()
	tests := []struct {
		name, spec, sub string
		stdin           []byte
		want            map[string]string
	}{
		{"tar.gz file", "tar://" + gzFile, "", nil, contents},
		{"plain tar on stdin", "tar://stdin", "", tarball(t, false, contents), contents},
		{"sub path", "tar://" + gzFile, "app", nil, map[string]string{"main.go": "package main\n"}},
		{"https archive", srv.URL + "/context.tar.gz", "", nil, contents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Dir: filepath.Join(t.TempDir(), "ctx"), SubPath: tt.sub, Stdin: bytes.NewReader(tt.stdin), CABundle: certPEM(srv)}
			dir, err := Fetch(context.Background(), tt.spec, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, files(t, dir)); diff != "" {
				t.Errorf("context (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFetchDirectories(t *testing.T) {
	for _, spec := range []string{"/some/dir", "dir:///some/dir"} {
		if got, err := Fetch(context.Background(), spec, Options{}); err != nil || got != "/some/dir" {
			t.Errorf("%s: %q, %v", spec, got, err)
		}
	}
}

func TestFetchErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"s3://bucket/ctx.tar.gz": "not supported",
		"tar:///does/not/exist":  "no such file",
		"git://":                 "want git://HOST/PATH",
	} {
		_, err := Fetch(context.Background(), spec, Options{Dir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), spec) {
			t.Errorf("%s: err %v, want one naming the context and saying %q", spec, err, want)
		}
	}
	dir := t.TempDir()
	if _, err := Fetch(context.Background(), dir, Options{SubPath: "missing"}); err == nil {
		t.Error("a missing sub path was accepted")
	}
}

func certPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

// gitServer serves repositories under root over https with git's own
// smart HTTP backend.
func gitServer(t *testing.T, root string) *httptest.Server {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if _, err := os.Stat(backend); err != nil {
		t.Skip("needs git's http backend (Debian package git)")
	}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestFetchGit(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "app.git")
	runGit(t, root, "init", "-q", "-b", "main", repo)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\n")
	runGit(t, repo, "add", ".")
	runGit(t, repo, "commit", "-q", "-m", "one")
	first := runGit(t, repo, "rev-parse", "HEAD")
	write("version", "2")
	runGit(t, repo, "add", ".")
	runGit(t, repo, "commit", "-q", "-m", "two")
	runGit(t, repo, "checkout", "-q", "-b", "feature")
	write("version", "feature")
	runGit(t, repo, "commit", "-q", "-am", "three")
	runGit(t, repo, "checkout", "-q", "main")
	runGit(t, repo, "config", "http.receivepack", "false")
	srv := gitServer(t, root)
	host := strings.TrimPrefix(srv.URL, "https://")

	tests := []struct {
		name, spec, branch string
		want               map[string]string
	}{
		{"default branch", "git://" + host + "/app.git", "", map[string]string{"Dockerfile": "FROM scratch\n", "version": "2"}},
		{"branch name", "git://" + host + "/app.git#feature", "", map[string]string{"Dockerfile": "FROM scratch\n", "version": "feature"}},
		{"full ref", "git://" + host + "/app.git#refs/heads/feature", "", map[string]string{"Dockerfile": "FROM scratch\n", "version": "feature"}},
		{"--git branch", "git://" + host + "/app.git", "feature", map[string]string{"Dockerfile": "FROM scratch\n", "version": "feature"}},
		{"ref and commit", "git://" + host + "/app.git#refs/heads/main#" + first, "", map[string]string{"Dockerfile": "FROM scratch\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := Fetch(context.Background(), tt.spec, Options{Dir: filepath.Join(t.TempDir(), "ctx"), GitBranch: tt.branch, CABundle: certPEM(srv)})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, files(t, dir)); diff != "" {
				t.Errorf("context (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Fetch(context.Background(), "git://"+host+"/app.git#nope", Options{Dir: t.TempDir(), CABundle: certPEM(srv)}); err == nil {
		t.Error("a missing branch was accepted")
	}
}

// TestFetchSubPathStaysInside: a fetched archive whose sub path is a
// symlink to a host directory gives that directory inside the context (or
// nothing), never the host's.
func TestFetchSubPathStaysInside(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "host-file"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: host},
		{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../.." + host},
		{Name: "Dockerfile", Typeflag: tar.TypeReg, Mode: 0o644},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	archive := filepath.Join(t.TempDir(), "ctx.tar")
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"abs", "up", "abs/", "up/.."} {
		dir := filepath.Join(t.TempDir(), "ctx")
		got, err := Fetch(context.Background(), "tar://"+archive, Options{Dir: dir, SubPath: sub})
		if err != nil {
			continue
		}
		// Where the build would read: every link followed.
		real, rerr := filepath.EvalSymlinks(got)
		if rerr == nil && !strings.HasPrefix(real, dir+"/") && real != dir {
			t.Errorf("sub path %s gave %s, which is %s, outside the context %s", sub, got, real, dir)
		}
		if _, err := os.Stat(filepath.Join(got, "host-file")); err == nil {
			t.Errorf("sub path %s reached the host directory", sub)
		}
	}
}
