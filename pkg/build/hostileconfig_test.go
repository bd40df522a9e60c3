package build

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// tamperingRegistry is ggcr's in-memory registry that serves other bytes
// for the blobs in swap.
type tamperingRegistry struct {
	next http.Handler
	mu   sync.Mutex
	swap map[string][]byte // blob digest -> what is served instead
}

func (r *tamperingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	for d, body := range r.swap {
		if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/blobs/"+d) {
			r.mu.Unlock()
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
			return
		}
	}
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

// rawManifest is a manifest pushed as written.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error) { return m, nil }

// pushRaw pushes an image made of a config as given and layers, each
// described with the size claimed (0: its real size), to ref.
func pushRaw(t *testing.T, ref string, config []byte, layers [][]byte, claimed []int64) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	cfgBlob := static.NewLayer(config, types.OCIConfigJSON)
	if err := remote.WriteLayer(r.Context(), cfgBlob); err != nil {
		t.Fatal(err)
	}
	cd, _ := cfgBlob.Digest()
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cd, Size: int64(len(config))}}
	for i, data := range layers {
		l := static.NewLayer(data, types.OCILayer)
		if err := remote.WriteLayer(r.Context(), l); err != nil {
			t.Fatal(err)
		}
		d, _ := l.Digest()
		size := int64(len(data))
		if claimed != nil && claimed[i] != 0 {
			size = claimed[i]
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCILayer, Digest: d, Size: size})
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(r, rawManifest(raw)); err != nil {
		t.Fatal(err)
	}
}

// gzipped is a gzip layer of files, and its diff ID.
func gzipped(t *testing.T, files ...file) ([]byte, v1.Hash) {
	t.Helper()
	l := layerOf(t, files...)
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	id, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return data, id
}

// configJSON is an image config for linux/amd64 with config as its
// "config" and the layers' diff IDs.
func configJSON(config string, diffIDs ...v1.Hash) []byte {
	var ids []string
	for _, id := range diffIDs {
		ids = append(ids, fmt.Sprintf("%q", id.String()))
	}
	return []byte(`{"architecture":"amd64","os":"linux","config":` + config + `,"rootfs":{"type":"layers","diff_ids":[` + strings.Join(ids, ",") + `]}}`)
}

// TestHostileBaseConfigs: base images whose config or manifest is made to
// hurt. Each builds, or fails with an error that names the Dockerfile's
// FROM and the base, and none takes more memory than a build should.
func TestHostileBaseConfigs(t *testing.T) {
	tr := &tamperingRegistry{next: registry.New(registry.Logger(log.New(io.Discard, "", 0))), swap: map[string][]byte{}}
	srv := httptest.NewServer(tr)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host := u.Host
	layer, id := gzipped(t, file{name: "etc/"}, file{name: "etc/motd", body: "hello\n"})

	bigLabel := strings.Repeat("x", 1<<20)
	pushRaw(t, host+"/hostile:biglabel", configJSON(`{"Labels":{"big":"`+bigLabel+`"}}`, id), [][]byte{layer}, nil)
	var env []string
	for i := range 100000 {
		env = append(env, fmt.Sprintf("%q", fmt.Sprintf("V%d=value-%d", i, i)))
	}
	pushRaw(t, host+"/hostile:manyenv", configJSON(`{"Env":[`+strings.Join(env, ",")+`]}`, id), [][]byte{layer}, nil)
	pushRaw(t, host+"/hostile:badtypes", configJSON(`{"Env":"PATH=/bin","ExposedPorts":[80,443],"Labels":7}`, id), [][]byte{layer}, nil)
	pushRaw(t, host+"/hostile:notjson", []byte(`{"architecture":"amd64","os":"linux","config":{`), [][]byte{layer}, nil)
	pushRaw(t, host+"/hostile:hugelayer", configJSON(`{}`, id), [][]byte{layer}, []int64{10 << 30})
	// A layer the registry serves other bytes for, as long.
	good, goodID := gzipped(t, file{name: "etc/"}, file{name: "etc/motd", body: "good\n"})
	evil, _ := gzipped(t, file{name: "etc/"}, file{name: "etc/motd", body: "evil\n"})
	if len(good) != len(evil) {
		t.Fatalf("the swapped layers are %d and %d bytes long", len(good), len(evil))
	}
	pushRaw(t, host+"/hostile:swapped", configJSON(`{}`, goodID), [][]byte{good}, nil)
	ld, _ := static.NewLayer(good, types.OCILayer).Digest()
	tr.swap[ld.String()] = evil

	tests := []struct {
		tag     string
		wantErr string // "" for a build that succeeds
		check   func(t *testing.T, res *Result)
	}{
		{tag: "biglabel", check: func(t *testing.T, res *Result) {
			cf, _ := res.Image.ConfigFile()
			if len(cf.Config.Labels["big"]) != 1<<20 || cf.Config.Labels["mine"] != "yes" {
				t.Errorf("labels: big %d bytes, mine %q", len(cf.Config.Labels["big"]), cf.Config.Labels["mine"])
			}
		}},
		{tag: "manyenv", check: func(t *testing.T, res *Result) {
			cf, _ := res.Image.ConfigFile()
			if len(cf.Config.Env) < 100000 {
				t.Errorf("%d env entries", len(cf.Config.Env))
			}
		}},
		{tag: "badtypes", wantErr: "cannot unmarshal"},
		{tag: "notjson", wantErr: "reading the config of"},
		{tag: "hugelayer", wantErr: "size"},
		{tag: "swapped", wantErr: "checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			ref := host + "/hostile:" + tt.tag
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := buildIn(t, "FROM "+ref+"\nLABEL mine=yes\nCOPY f /f\n", map[string]string{"f": "x"}, func(o *Options) { o.Platform = "linux/amd64" })
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 512<<20 {
				t.Errorf("the build allocated %d MiB", grew>>20)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if fs := flatten(t, res.Image); fs["etc/motd"].Body != "hello\n" || fs["f"].Body != "x" {
					t.Errorf("files: motd %q f %q", fs["etc/motd"].Body, fs["f"].Body)
				}
				tt.check(t, res)
				return
			}
			if err == nil {
				t.Fatal("the build succeeded")
			}
			t.Log(err)
			for _, want := range []string{"Dockerfile:1", ref, tt.wantErr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}
