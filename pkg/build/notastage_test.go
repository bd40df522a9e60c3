package build

import (
	"testing"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// TestNotAStage: a failed pull of a bare name in a Dockerfile that names
// stages says the name was taken for an image and lists the stages; a
// reference with a registry, tag or digest, or a file naming no stages,
// gets no such note.
func TestNotAStage(t *testing.T) {
	for _, tt := range []struct{ src, ref, want string }{
		{"FROM scratch AS builder\nFROM scratch AS test\nFROM buidler\n", "buidler",
			` (no stage before it is named "buidler", so it was taken for an image; stages: builder, test)`},
		{"FROM scratch AS builder\nFROM buidler:1\n", "buidler:1", ""},
		{"FROM scratch AS builder\nFROM example.com/buidler\n", "example.com/buidler", ""},
		{"FROM scratch\nFROM buidler\n", "buidler", ""},
	} {
		df, err := dockerfile.Parse("Dockerfile", []byte(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		if got := (&builder{df: df}).notAStage(tt.ref); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.ref, got, tt.want)
		}
	}
}
