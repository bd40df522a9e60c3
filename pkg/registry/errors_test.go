package registry

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestReferenceErrors(t *testing.T) {
	for in, want := range map[string]string{
		"UPPER/Case:tag":              "repository names must be lowercase (upper/case)",
		"Registry.Example:5000/App:1": "repository names must be lowercase (app)",
		"app:BAD TAG":                 "parsing reference",
	} {
		_, err := Options{}.ParseReference(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
	tag, _ := name.ParseReference("r.example/team/app:1.2")
	dig, _ := name.ParseReference("r.example/team/app@sha256:" + strings.Repeat("a", 64))
	tests := []struct {
		ref  name.Reference
		err  error
		want string
	}{
		{tag, &transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{{Code: transport.ManifestUnknownErrorCode}}}, `the repository r.example/team/app has no tag "1.2"`},
		{dig, &transport.Error{StatusCode: http.StatusNotFound}, "the repository r.example/team/app has no image sha256:aaaa"},
		{tag, &transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode}}}, "the repository r.example/team/app does not exist"},
		{tag, &transport.Error{StatusCode: 401, Errors: []transport.Diagnostic{{Code: transport.UnauthorizedErrorCode}}}, "UNAUTHORIZED"},
		{tag, errors.New("connection refused"), "connection refused"},
	}
	for _, tt := range tests {
		if got := NotFound(tt.ref, tt.err).Error(); !strings.Contains(got, tt.want) {
			t.Errorf("NotFound(%s, %v) = %q, want %q", tt.ref, tt.err, got, tt.want)
		}
	}
}
