package build

import (
	"bytes"
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

// blobLog is an in-memory registry that notes when each blob was first
// asked for, and how often.
type blobLog struct {
	mu    sync.Mutex
	first map[string]time.Time
	count map[string]int
}

func blobLogRegistry(t *testing.T) (string, *blobLog) {
	t.Helper()
	bl := &blobLog{first: map[string]time.Time{}, count: map[string]int{}}
	reg := registry.New(registry.Logger(nopLogger()))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			bl.mu.Lock()
			if _, ok := bl.first[d]; !ok {
				bl.first[d] = time.Now()
			}
			bl.count[d]++
			bl.mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return u.Host, bl
}

// TestBasesFetchedEarly: the base of a stage that waits for a stage it
// copies from starts downloading when the build starts, not when the
// stage is reached, and is downloaded once.
func TestBasesFetchedEarly(t *testing.T) {
	needRoot(t)
	host, bl := blobLogRegistry(t)
	bb := busyboxLayer(t)
	own := layerOf(t, file{name: "srv/"}, file{name: "srv/final", body: "the final stage's base"})
	pushImage(t, host+"/build:1", v1.Config{Env: []string{"PATH=/bin"}}, amd64, bb)
	pushImage(t, host+"/final:1", v1.Config{Env: []string{"PATH=/bin"}}, amd64, bb, own)
	d, err := own.Digest()
	if err != nil {
		t.Fatal(err)
	}
	df := "FROM " + host + "/build:1 AS build\nRUN sleep 2 && echo built > /out\nFROM " + host + "/final:1\nCOPY --from=build /out /out\n"
	for _, kept := range []bool{false, true} {
		t.Run(fmt.Sprintf("layer directory %v", kept), func(t *testing.T) {
			bl.mu.Lock()
			clear(bl.first)
			clear(bl.count)
			bl.mu.Unlock()
			var log bytes.Buffer
			res := mustBuildIn(t, df, map[string]string{"x": "x"}, amd, debugTo(&log), func(o *Options) {
				if kept {
					o.BaseLayerDir = t.TempDir()
				}
			})
			_, after, ok := strings.Cut(log.String(), `msg="RUN finished"`)
			i := strings.LastIndex(log.String()[:len(log.String())-len(after)], "time=")
			if !ok || i < 0 {
				t.Fatalf("no RUN finished in the log:\n%s", log.String())
			}
			ranUntil, err := time.Parse(time.RFC3339Nano, strings.Fields(log.String()[i+len("time="):])[0])
			if err != nil {
				t.Fatal(err)
			}
			bl.mu.Lock()
			asked, n := bl.first[d.String()], bl.count[d.String()]
			bl.mu.Unlock()
			if asked.IsZero() || !asked.Before(ranUntil) {
				t.Errorf("the final stage's base layer was first asked for at %v, not before the build stage's RUN ended (%v)", asked, ranUntil)
			}
			if n != 1 {
				t.Errorf("the final stage's base layer was downloaded %d times, want once", n)
			}
			if got := flatten(t, res.Image)["srv/final"].Body; got != "the final stage's base" {
				t.Errorf("/srv/final = %q", got)
			}
		})
	}
}
