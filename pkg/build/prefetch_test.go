package build

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// countingRegistry is the in-memory registry, counting blob downloads
// by digest (under "max in flight": the most served at once). Each
// download takes at least 30 ms, as over a real network.
func countingRegistry(t *testing.T) (string, func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	inFlight := 0
	reg := registry.New(registry.Logger(nopLogger()))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			mu.Lock()
			counts[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
			inFlight++
			counts["max in flight"] = max(counts["max in flight"], inFlight)
			mu.Unlock()
			defer func() {
				mu.Lock()
				inFlight--
				mu.Unlock()
			}()
			time.Sleep(30 * time.Millisecond)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return u.Host, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range counts {
			out[k] = v
		}
		return out
	}
}

// TestUnpackManyLayers builds on a base of many layers, later ones
// replacing and deleting what earlier ones made: the layers download
// ahead of their turn, yet each exactly once and unpacked in order.
func TestUnpackManyLayers(t *testing.T) {
	needRoot(t)
	host, counts := countingRegistry(t)
	ls := []v1.Layer{busyboxLayer(t)}
	for i := 1; i <= 8; i++ {
		ls = append(ls, layerOf(t,
			file{name: "data/"},
			file{name: fmt.Sprintf("data/f%d", i), body: fmt.Sprint(i)},
			file{name: "data/latest", body: fmt.Sprint(i)},
			file{name: fmt.Sprintf("data/.wh.f%d", i-1)},
		))
	}
	ref := host + "/many:1"
	pushImage(t, ref, v1.Config{Env: []string{"PATH=/bin"}}, amd64, ls...)
	before := counts()
	res := mustBuildIn(t, "FROM "+ref+"\nRUN ls /data > /listing && cat /data/latest >> /listing\n", map[string]string{}, amd)
	after := counts() // before flatten reads the base's layers again
	if after["max in flight"] < 2 {
		t.Errorf("at most %d layer downloaded at a time: nothing was fetched ahead", after["max in flight"])
	}
	fs := flatten(t, res.Image)
	if got, want := fs["listing"].Body, "f8\nlatest\n8"; got != want {
		t.Errorf("the step saw %q, want %q: layers unpacked out of order?", got, want)
	}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if n := after[d.String()] - before[d.String()]; n != 1 {
			t.Errorf("layer %s downloaded %d times, want once", d, n)
		}
	}
}
