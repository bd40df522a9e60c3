package push

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// recorder is an in-memory registry that remembers the requests it got.
type recorder struct {
	mu       sync.Mutex
	requests []string
	handler  http.Handler
	deny     int // manifest uploads to refuse before accepting them
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Path)
	deny := req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") && r.deny > 0
	if deny {
		r.deny--
	}
	r.mu.Unlock()
	if deny {
		http.Error(w, `{"errors":[{"code":"DENIED","message":"not yet"}]}`, http.StatusForbidden)
		return
	}
	r.handler.ServeHTTP(w, req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}

func startRegistry(t *testing.T) (string, *recorder) {
	t.Helper()
	rec := &recorder{handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	s := httptest.NewServer(rec)
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return u.Host, rec
}

func TestPublishToRegistry(t *testing.T) {
	host, rec := startRegistry(t)
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	opts := Options{Destinations: []string{host + "/app:1", host + "/app:latest", host + "/other:1"}}
	names, err := Publish(context.Background(), img, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{host + "/app@" + digest.String(), host + "/other@" + digest.String()}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("names = %v, want %v", names, want)
	}
	for _, d := range opts.Destinations {
		ref, _ := name.ParseReference(d)
		got, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if gd, _ := got.Digest(); gd != digest {
			t.Errorf("%s has %s, want %s", d, gd, digest)
		}
	}
	// Every manifest comes after the uploads of its repository's blobs.
	lastUpload := map[string]int{}
	firstManifest := map[string]int{}
	for i, r := range rec.take() {
		repo := strings.Split(strings.TrimPrefix(r[strings.Index(r, " ")+1:], "/v2/"), "/")[0]
		switch {
		case strings.HasPrefix(r, "PUT ") && strings.Contains(r, "/blobs/uploads/"),
			strings.HasPrefix(r, "PATCH ") && strings.Contains(r, "/blobs/uploads/"):
			lastUpload[repo] = i
		case strings.HasPrefix(r, "PUT ") && strings.Contains(r, "/manifests/"):
			if _, ok := firstManifest[repo]; !ok {
				firstManifest[repo] = i
			}
		}
	}
	for repo, m := range firstManifest {
		if lastUpload[repo] > m {
			t.Errorf("%s: a manifest was pushed before a blob", repo)
		}
	}

	// Pushing again uploads no blob: the registry has them all.
	if _, err := Publish(context.Background(), img, Options{Destinations: []string{host + "/app:again"}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.take() {
		if strings.Contains(r, "/blobs/uploads/") {
			t.Errorf("a blob the registry has was uploaded again: %s", r)
		}
	}
}

func TestPublishFiles(t *testing.T) {
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	dir := t.TempDir()
	opts := Options{
		Destinations: []string{"registry.example.com/app:1", "registry.example.com/app:2"},
		NoPush:       true,
		TarPath:      filepath.Join(dir, "img.tar"), OCILayoutPath: filepath.Join(dir, "layout"),
		DigestFile: filepath.Join(dir, "digest"), ImageNameWithDigestFile: filepath.Join(dir, "names"),
		IIDFile: filepath.Join(dir, "iid"), MetadataFile: filepath.Join(dir, "metadata.json"),
	}
	names, err := Publish(context.Background(), img, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "registry.example.com/app@"+digest.String() {
		t.Errorf("names = %v", names)
	}
	for _, tag := range []string{"registry.example.com/app:1", "registry.example.com/app:2"} {
		ref, _ := name.NewTag(tag)
		got, err := tarball.ImageFromPath(opts.TarPath, &ref)
		if err != nil {
			t.Fatalf("tarball %s: %v", tag, err)
		}
		if gd, _ := got.Digest(); gd != digest {
			t.Errorf("tarball %s: %s", tag, gd)
		}
	}
	lp, err := layout.FromPath(opts.OCILayoutPath)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := lp.ImageIndex()
	im, _ := idx.IndexManifest()
	var tags []string
	for _, m := range im.Manifests {
		if m.Digest != digest {
			t.Errorf("layout holds %s", m.Digest)
		}
		tags = append(tags, m.Annotations["org.opencontainers.image.ref.name"])
	}
	if strings.Join(tags, ",") != "1,2" {
		t.Errorf("layout tags %v", tags)
	}
	if b, _ := os.ReadFile(opts.DigestFile); string(b) != digest.String() {
		t.Errorf("digest file %q", b)
	}
	if b, _ := os.ReadFile(opts.ImageNameWithDigestFile); string(b) != names[0]+"\n" {
		t.Errorf("names file %q", b)
	}
	id, _ := img.ConfigName()
	if b, _ := os.ReadFile(opts.IIDFile); string(b) != id.String() {
		t.Errorf("image ID file %q, want %s (the config's digest)", b, id)
	}
	var md map[string]any
	data, _ := os.ReadFile(opts.MetadataFile)
	if err := json.Unmarshal(data, &md); err != nil {
		t.Fatalf("metadata file %q: %v", data, err)
	}
	desc, _ := md["containerimage.descriptor"].(map[string]any)
	if md["containerimage.digest"] != digest.String() || md["containerimage.config.digest"] != id.String() ||
		md["image.name"] != "registry.example.com/app:1,registry.example.com/app:2" || desc["digest"] != digest.String() {
		t.Errorf("metadata file:\n%s", data)
	}
}

func TestPublishErrors(t *testing.T) {
	img, _ := random.Image(10, 1)
	dir := t.TempDir()
	if _, err := Publish(context.Background(), img, Options{}); err == nil || !strings.Contains(err.Error(), "nowhere to put the image") {
		t.Errorf("no outputs: %v", err)
	}
	_, err := Publish(context.Background(), img, Options{NoPush: true, TarPath: filepath.Join(dir, "missing-dir", "x.tar")})
	if err == nil {
		t.Error("a tarball in a missing directory was accepted")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("a failed write left %v", entries)
	}
	_, err = Publish(context.Background(), img, Options{Destinations: []string{"127.0.0.1:1/unreachable:1"}})
	if err == nil || !strings.Contains(err.Error(), "pushing to 127.0.0.1:1/unreachable:1") {
		t.Errorf("an unreachable registry: %v", err)
	}
}

func TestPublishRetries(t *testing.T) {
	host, rec := startRegistry(t)
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	rec.deny = 1
	if _, err := Publish(context.Background(), img, Options{Destinations: []string{host + "/app:1"}}); err == nil {
		t.Fatal("a refused push succeeded without retries")
	}
	rec.deny = 1
	var progress strings.Builder
	names, err := Publish(context.Background(), img, Options{Destinations: []string{host + "/app:1"}, Retries: 1, Progress: &progress})
	if err != nil {
		t.Fatalf("with one retry: %v", err)
	}
	if len(names) != 1 || !strings.Contains(progress.String(), "retrying in 1s (1 of 1)") {
		t.Errorf("names %v, progress:\n%s", names, progress.String())
	}
}

func TestImageNameTagWithDigestFile(t *testing.T) {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	f := filepath.Join(t.TempDir(), "names")
	opts := Options{Destinations: []string{"registry.example.com/app:1", "registry.example.com/app:latest"}, NoPush: true, ImageNameTagWithDigestFile: f}
	if _, err := Publish(context.Background(), img, opts); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	want := "registry.example.com/app:1@" + digest.String() + "\nregistry.example.com/app:latest@" + digest.String() + "\n"
	if string(data) != want {
		t.Errorf("file = %q, want %q", data, want)
	}
}

// TestCheckDestinations asks each destination's registry before a build:
// one that lets the credentials push passes, one that refuses them or
// cannot be reached fails, and with NoPush nothing is asked.
func TestCheckDestinations(t *testing.T) {
	open, _ := startRegistry(t)
	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	defer locked.Close()
	lockedHost := strings.TrimPrefix(locked.URL, "http://")
	for _, tc := range []struct {
		name  string
		opts  Options
		fails string
	}{
		{"open", Options{Destinations: []string{open + "/app:1", open + "/app:2"}}, ""},
		{"refused", Options{Destinations: []string{open + "/app:1", lockedHost + "/app:1"}}, "cannot push to " + lockedHost + "/app"},
		{"unreachable", Options{Destinations: []string{"127.0.0.1:1/app:1"}}, "cannot push to 127.0.0.1:1/app"},
		{"no push", Options{NoPush: true, Destinations: []string{"127.0.0.1:1/app:1"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDestinations(tc.opts)
			if tc.fails == "" && err != nil || tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)) {
				t.Errorf("err = %v, want %q", err, tc.fails)
			}
		})
	}
}

// TestPublishTellsPushedBytes: Pushed hears the upload grow to the size of
// every blob the registry lacked (layers and config), and is done being
// told when Publish returns.
func TestPublishTellsPushedBytes(t *testing.T) {
	host, _ := startRegistry(t)
	img, err := random.Image(64<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ls, _ := img.Layers()
	for _, l := range ls {
		n, _ := l.Size()
		want += n
	}
	var calls int
	var current, total int64
	_, err = Publish(context.Background(), img, Options{Destinations: []string{host + "/app:1"}, Pushed: func(c, t int64) {
		calls++
		current, total = c, t
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || current != total || total < want {
		t.Errorf("after %d calls: %d of %d bytes; the layers alone are %d", calls, current, total, want)
	}
}
