package dockerfile

import (
	"slices"
	"testing"
)

func TestUndeclaredInFrom(t *testing.T) {
	for src, want := range map[string][]string{
		"FROM busybox:${TAG}\n":                    {"TAG"},
		"ARG TAG\nFROM busybox:${TAG}\n":           nil,
		"ARG TAG=1\nFROM busybox:$TAG\n":           nil,
		"FROM busybox:${TAG:-latest}\n":            {"TAG"}, // as BuildKit: the default does not declare it
		"FROM $REG/app:${V}\n":                     {"REG", "V"},
		"FROM --platform=$BUILDPLATFORM busybox\n": nil,
	} {
		df, err := Parse("Dockerfile", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		g, err := df.Globals(PlatformArgs(Platform{OS: "linux", Architecture: "amd64"}, Platform{OS: "linux", Architecture: "amd64"}, "", nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := df.Plan("", g)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got := p.Undeclared[len(df.Stages)-1]; !slices.Equal(got, want) {
			t.Errorf("%q: undeclared %v, want %v", src, got, want)
		}
	}
}
