package integration

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pulled is an image pulled from the test registry and unpacked by umoci.
type pulled struct {
	rootfs  string
	tree    map[string]node
	config  imageConfig
	layers  [][]string // the entry names of each layer
	history []historyEntry
}

type imageConfig struct {
	Config  map[string]any `json:"config"`
	History []historyEntry `json:"history"`
}

type historyEntry struct {
	CreatedBy  string `json:"created_by"`
	EmptyLayer bool   `json:"empty_layer"`
}

// fetch copies ref into an OCI layout with skopeo and unpacks it with umoci.
func fetch(t *testing.T, ref string) *pulled {
	t.Helper()
	dir := t.TempDir()
	layout, bundle := filepath.Join(dir, "layout"), filepath.Join(dir, "bundle")
	run(t, "skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "oci:"+layout+":t")
	run(t, "umoci", "unpack", "--image", layout+":t", bundle)
	p := &pulled{rootfs: filepath.Join(bundle, "rootfs")}
	var err error
	if p.tree, err = treeOf(p.rootfs); err != nil {
		t.Fatal(err)
	}
	var index struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	readJSON(t, filepath.Join(layout, "index.json"), &index)
	var manifest struct {
		Config struct{ Digest string } `json:"config"`
		Layers []struct {
			Digest    string `json:"digest"`
			MediaType string `json:"mediaType"`
		} `json:"layers"`
	}
	readJSON(t, blobPath(layout, index.Manifests[0].Digest), &manifest)
	// The config as pushed: skopeo's copy into an OCI layout converts a
	// Docker config and drops Docker-only fields (Healthcheck, OnBuild).
	raw := run(t, "skopeo", "inspect", "--raw", "--config", "--tls-verify=false", "docker://"+ref)
	if err := json.Unmarshal([]byte(raw), &p.config); err != nil {
		t.Fatalf("config of %s: %v", ref, err)
	}
	p.history = p.config.History
	for _, l := range manifest.Layers {
		p.layers = append(p.layers, layerEntries(t, blobPath(layout, l.Digest)))
	}
	return p
}

func blobPath(layout, digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(layout, "blobs", alg, hex)
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// layerEntries lists a gzip layer's entry names, without "./" or "/" prefixes.
func layerEntries(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	var names []string
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/"))
	}
}
