package registry

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseReference(t *testing.T) {
	tests := []struct {
		opts   Options
		ref    string
		scheme string
	}{
		{Options{}, "registry.example.com/app:1", "https"},
		{Options{Insecure: true}, "registry.example.com/app:1", "http"},
		{Options{InsecureRegistries: []string{"registry.example.com"}}, "registry.example.com/app:1", "http"},
		{Options{InsecureRegistries: []string{"other.example.com"}}, "registry.example.com/app:1", "https"},
		{Options{InsecureRegistries: []string{"10.0.0.1:5000"}}, "10.0.0.1:5000/app", "http"},
	}
	for _, tt := range tests {
		r, err := tt.opts.ParseReference(tt.ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Context().Scheme(); got != tt.scheme {
			t.Errorf("%+v %s: scheme %s, want %s", tt.opts, tt.ref, got, tt.scheme)
		}
	}
	if _, err := (Options{}).ParseReference("Bad/Ref"); err == nil {
		t.Error("an invalid reference was accepted")
	}
}

func TestSkipTLSVerify(t *testing.T) {
	base := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	tr := Options{Transport: base, SkipTLSVerify: true}.transport().(*http.Transport)
	if !tr.TLSClientConfig.InsecureSkipVerify || tr.TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("TLS config %+v", tr.TLSClientConfig)
	}
	if base.TLSClientConfig.InsecureSkipVerify {
		t.Error("the base transport was changed")
	}
	if (Options{Transport: base}).transport() != base {
		t.Error("without SkipTLSVerify the transport must be the base")
	}
}

func TestSkipTLSVerifyRegistries(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	get := func(o Options) error {
		resp, err := (&http.Client{Transport: o.transport()}).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(Options{}); err == nil {
		t.Error("an unknown certificate was accepted")
	}
	if err := get(Options{SkipTLSVerifyRegistries: []string{"other.example.com"}}); err == nil {
		t.Error("skipping verification for another host accepted this one")
	}
	if err := get(Options{SkipTLSVerifyRegistries: []string{host}}); err != nil {
		t.Errorf("skipping verification for %s: %v", host, err)
	}
}
