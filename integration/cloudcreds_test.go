package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeGCEMetadata serves what Google's auth libraries ask a GCE or GKE
// metadata server for, handing out token; asked counts the tokens given.
func fakeGCEMetadata(t *testing.T, token string, asked *atomic.Int32) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		switch p := r.URL.Path; {
		case strings.HasSuffix(p, "/instance/service-accounts/default/token"):
			asked.Add(1)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": token, "expires_in": 3600, "token_type": "Bearer"})
		case strings.HasSuffix(p, "/universe/universe-domain"):
			fmt.Fprint(w, "googleapis.com")
		case strings.HasSuffix(p, "/project/project-id"):
			fmt.Fprint(w, "builder-test")
		case strings.HasSuffix(p, "/instance/service-accounts/default/email"):
			fmt.Fprint(w, "builder@builder-test.iam.gserviceaccount.com")
		case p == "/" || p == "/computeMetadata/v1/":
			fmt.Fprint(w, "ok")
		default:
			t.Logf("metadata server: unexpected %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// tokenGate fronts the test registry the way GCR and Artifact Registry
// take a token: basic auth whose password is the token, any user name.
func tokenGate(t *testing.T, token string) string {
	t.Helper()
	backend, err := url.Parse("http://" + env.registry)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := ":" + token
		got, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") || !strings.HasSuffix(string(got), want) {
			w.Header().Set("WWW-Authenticate", `Basic realm="gate"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		r.Header.Del("Authorization")
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// TestImageCloudCredentials runs the builder's image as a GKE Pod with
// Workload Identity would: no password anywhere, config.json naming the
// gcr helper for the registry (as GCR and Artifact Registry users write
// it), and a metadata server (fake, on loopback) that hands out a token.
// The image's own docker-credential-gcr gets the token and the push goes
// through a registry that takes nothing else.
func TestImageCloudCredentials(t *testing.T) {
	needs(t)
	self := selfImage(t, "image")
	const token = "ya29.token-from-the-metadata-server"
	var asked atomic.Int32
	metadata := fakeGCEMetadata(t, token, &asked)
	gated := tokenGate(t, token)

	dockerDir := t.TempDir()
	cfg := fmt.Sprintf(`{"credHelpers": {%q: "gcr"}}`, gated)
	if err := os.WriteFile(filepath.Join(dockerDir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + env.busybox + "\nRUN echo from-the-cloud > /cloud\n"})
	ref := gated + "/cloud/app:1"
	out, code := runImageWith(t, self, func(spec map[string]any) {
		asPod([]string{"/kaniko/executor", "--context", "dir:///workspace", "--destination", ref}, ctx)(spec)
		proc := spec["process"].(map[string]any)
		proc["env"] = append(proc["env"].([]any), "GCE_METADATA_HOST="+metadata)
		spec["mounts"] = append(spec["mounts"].([]any), map[string]any{
			"destination": "/kaniko/.docker", "type": "bind", "source": dockerDir, "options": []string{"rbind", "ro"},
		})
	})
	if code != 0 {
		t.Fatalf("the builder with the gcr helper: exit %d\n%s", code, tail(out, 30))
	}
	if asked.Load() == 0 {
		t.Error("the metadata server was never asked for a token")
	}
	if strings.Contains(out, token) {
		t.Errorf("the token appears in the output:\n%s", out)
	}
	// Pushed through the gate, into the registry behind it.
	p := fetch(t, env.registry+"/cloud/app:1")
	if _, ok := p.tree["/cloud"]; !ok {
		t.Errorf("the pushed image lacks /cloud: %v", keys(p.tree))
	}
}
