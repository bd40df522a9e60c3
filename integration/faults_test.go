package integration

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/buildcrew/builder/pkg/push"
	"github.com/buildcrew/builder/pkg/registry"
)

// faultProxy stands in front of the real test registry and, for a share
// of requests, answers 500, answers 429 with Retry-After, or cuts the
// connection in the middle of an upload.
type faultProxy struct {
	proxy *httputil.ReverseProxy
	host  string // the proxy's host:port, for rewriting upload locations
	mu    sync.Mutex
	rng   *rand.Rand
	rate  float64
	seen  map[string]int
	delay time.Duration // before answering each request
	log   []string      // "METHOD path?query" of every request
}

func startFaultProxy(t *testing.T, target string, rate float64, seed int64) *faultProxy {
	t.Helper()
	u, _ := url.Parse("http://" + target)
	f := &faultProxy{rng: rand.New(rand.NewSource(seed)), rate: rate, seen: map[string]int{}}
	f.proxy = httputil.NewSingleHostReverseProxy(u)
	f.proxy.ErrorLog = log.New(io.Discard, "", 0)
	f.proxy.ModifyResponse = func(r *http.Response) error {
		// The registry names its own address in upload locations.
		if loc := r.Header.Get("Location"); loc != "" {
			r.Header.Set("Location", strings.Replace(loc, target, f.host, 1))
		}
		return nil
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.host = strings.TrimPrefix(srv.URL, "http://")
	return f
}

func (f *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.delay > 0 && r.URL.Path != "/v2/" {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+r.URL.RequestURI())
	fault := -1
	if r.URL.Path != "/v2/" && f.rng.Float64() < f.rate {
		fault = f.rng.Intn(3)
	}
	f.mu.Unlock()
	switch fault {
	case 0:
		f.count("500")
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}`, http.StatusInternalServerError)
	case 1:
		f.count("429")
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
	case 2:
		f.count("reset")
		io.CopyN(io.Discard, r.Body, 512) // part of the upload, then the cut
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
		}
	default:
		f.proxy.ServeHTTP(w, r)
	}
}

func (f *faultProxy) count(kind string) {
	f.mu.Lock()
	f.seen[kind]++
	f.mu.Unlock()
}

// TestRegistryFaults pushes 50 images through a proxy that fails a fifth
// of requests. Each push succeeds or fails naming the registry; either
// way no manifest in the registry points at a blob it lacks.
func TestRegistryFaults(t *testing.T) {
	needs(t)
	proxy := startFaultProxy(t, env.registry, 0.2, 42)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	succeeded := 0
	for i := range 50 {
		img, err := random.Image(64<<10, 2)
		if err != nil {
			t.Fatal(err)
		}
		dest := fmt.Sprintf("%s/faults/app:%d", proxy.host, i)
		opts := push.Options{Destinations: []string{dest}, Retries: 4, RetryWait: 10 * time.Millisecond,
			Registry: registry.Options{InsecureRegistries: []string{proxy.host}, RetryWait: 20 * time.Millisecond}}
		_, err = push.Publish(ctx, img, opts)
		if err == nil {
			succeeded++
		} else if !strings.Contains(err.Error(), proxy.host) {
			t.Errorf("push %d failed without naming the registry: %v", i, err)
		}
		// Straight to the registry, no faults: a manifest that exists must
		// have every blob.
		checkComplete(t, fmt.Sprintf("%s/faults/app:%d", env.registry, i))
	}
	t.Logf("%d of 50 pushes succeeded; injected %v", succeeded, proxy.seen)
	if succeeded < 45 {
		t.Errorf("only %d of 50 pushes succeeded with 4 retries", succeeded)
	}
	if proxy.seen["500"] == 0 || proxy.seen["429"] == 0 || proxy.seen["reset"] == 0 {
		t.Errorf("not every fault was injected: %v", proxy.seen)
	}
}

// checkComplete fails the test when ref's manifest exists but one of its
// blobs does not.
func checkComplete(t *testing.T, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		return // no manifest: nothing half-pushed to look at
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	descs := append([]v1.Descriptor{m.Config}, m.Layers...)
	for _, d := range descs {
		if _, err := remote.Layer(r.Context().Digest(d.Digest.String())); err != nil {
			t.Errorf("%s: blob %s: %v", ref, d.Digest, err)
			continue
		}
		resp, err := http.Head(fmt.Sprintf("http://%s/v2/%s/blobs/%s", r.Context().RegistryStr(), r.Context().RepositoryStr(), d.Digest))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: the manifest names blob %s, which the registry lacks", ref, d.Digest)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
}

// TestPullFaults builds FROM an image behind the faulty proxy with
// --image-download-retry.
func TestPullFaults(t *testing.T) {
	needs(t)
	proxy := startFaultProxy(t, env.registry, 0.3, 7)
	base := strings.Replace(env.busybox, env.registry, proxy.host, 1)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo pulled > /pulled\n"})
	for i := range 5 {
		r := runBuilder(t, ctx, nil, "--context", ctx, "--destination", fmt.Sprintf("%s/faults/pulled:%d", env.registry, i),
			"--insecure-registry", proxy.host, "--image-download-retry", "5")
		if r.code != 0 {
			t.Errorf("build %d: exit %d\n%s", i, r.code, tail(r.stderr, 15))
		}
	}
	t.Logf("injected %v", proxy.seen)
}
