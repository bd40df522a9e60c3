package registry

import (
	"crypto/tls"
	"net/http"
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
