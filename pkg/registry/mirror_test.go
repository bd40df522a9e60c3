package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestCandidates(t *testing.T) {
	var o Options
	for _, m := range [][2]string{
		{"docker.io", "mirror.example.com/hub"},
		{"index.docker.io", "https://second.example.com/"},
		{"ghcr.io", "10.0.0.5:5000"},
	} {
		if err := o.AddMirror(m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ref        string
		noFallback bool
		want       []string
	}{
		{"busybox:1.36", false, []string{"mirror.example.com/hub/library/busybox:1.36", "second.example.com/library/busybox:1.36", "index.docker.io/library/busybox:1.36"}},
		{"ghcr.io/acme/app@sha256:" + sixtyFour, true, []string{"10.0.0.5:5000/acme/app@sha256:" + sixtyFour}},
		{"quay.io/acme/app", true, []string{"quay.io/acme/app:latest"}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			o.NoFallback = tt.noFallback
			ref, err := name.ParseReference(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			refs, err := o.Candidates(ref)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range refs {
				got = append(got, r.Name())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
		})
	}
	if err := o.AddMirror("docker.io", "Not A Host"); err == nil {
		t.Error("an invalid mirror was accepted")
	}
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
