package testenv

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The reference BuildKit is the one whose frontend this builder uses.
func TestBuildKitVersionIsGoMods(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "github.com/moby/buildkit" {
			if f[1] != BuildKitVersion {
				t.Fatalf("go.mod has buildkit %s, BuildKitVersion is %s", f[1], BuildKitVersion)
			}
			return
		}
	}
	t.Fatal("go.mod does not require github.com/moby/buildkit")
}

func TestFrontendOptions(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    []string
		wantErr bool
	}{
		{args: nil},
		{args: []string{"--build-arg", "A=1=2", "--target=mid"}, want: []string{"--opt", "build-arg:A=1=2", "--opt", "target=mid"}},
		{args: []string{"--build-arg=B"}, want: []string{"--opt", "build-arg:B"}},
		{args: []string{"--platform", "linux/amd64,linux/arm64"}, want: []string{"--opt", "platform=linux/amd64,linux/arm64"}},
		{args: []string{"--target"}, wantErr: true},
		{args: []string{"--squash"}, wantErr: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := frontendOptions(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}
