package registry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// fakeHelper installs docker-credential-NAME on PATH: it answers for one
// server and fails for the others, as real helpers do.
func fakeHelper(t *testing.T, helperName, server, user, secret string) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread s\nif [ \"$s\" = \"" + server + "\" ]; then echo '{\"ServerURL\":\"" + server + "\",\"Username\":\"" + user + "\",\"Secret\":\"" + secret + "\"}'; else echo 'credentials not found in native keychain' >&2; exit 1; fi\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+helperName), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestHelperKeychain(t *testing.T) {
	fakeHelper(t, "ecr-login", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "AWS", "ecr-token")
	fakeHelper(t, "corp", "registry.corp.example", "svc", "corp-secret")
	ecr, _ := KnownHelper("ecr")
	kc := HelperKeychain([]CredentialHelper{ecr, {Name: "corp"}})
	tests := []struct {
		ref, user, pass string
	}{
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1", "AWS", "ecr-token"},
		{"registry.corp.example/team/app:1", "svc", "corp-secret"},
		{"ghcr.io/acme/app:1", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			ref, err := name.ParseReference(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			auth, err := kc.Resolve(ref.Context())
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := auth.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if tt.user == "" {
				if auth != authn.Anonymous {
					t.Errorf("got %+v, want anonymous", cfg)
				}
				return
			}
			if cfg.Username != tt.user || cfg.Password != tt.pass {
				t.Errorf("got %s/%s, want %s/%s", cfg.Username, cfg.Password, tt.user, tt.pass)
			}
		})
	}
	for host, want := range map[string]string{
		"gcr.io": "google", "eu.gcr.io": "google", "europe-west1-docker.pkg.dev": "google",
		"acme.azurecr.io": "acr", "1.dkr.ecr.us-east-1.amazonaws.com": "ecr", "docker.io": "",
	} {
		got := ""
		for _, n := range KnownHelpers() {
			if h, _ := KnownHelper(n); h.Serves(host) {
				got = n
			}
		}
		if got != want {
			t.Errorf("%s is served by %q, want %q", host, got, want)
		}
	}
}
