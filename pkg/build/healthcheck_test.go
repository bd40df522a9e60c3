package build

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestHealthcheckStartInterval writes --start-interval into the config
// (a field go-containerregistry lacks) in a valid image, words the
// history as BuildKit does, and keeps it through FROM an image and FROM
// a stage; HEALTHCHECK NONE drops it.
func TestHealthcheckStartInterval(t *testing.T) {
	startInterval := func(t *testing.T, raw []byte) (time.Duration, bool) {
		t.Helper()
		var c struct {
			Config struct {
				Healthcheck map[string]any
			} `json:"config"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		v, ok := c.Config.Healthcheck["StartInterval"].(float64)
		return time.Duration(v), ok
	}
	res := mustBuildIn(t, "FROM scratch\nHEALTHCHECK --interval=10s --start-interval=3s CMD [\"/probe\"]\n", map[string]string{}, amd)
	if err := validate.Image(res.Image); err != nil {
		t.Fatalf("the image is not valid: %v", err)
	}
	raw, err := res.Image.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := startInterval(t, raw); !ok || d != 3*time.Second {
		t.Errorf("StartInterval = %v (%v), want 3s", d, ok)
	}
	cfg := configOf(t, res.Image)
	if cfg.Config.Healthcheck == nil || cfg.Config.Healthcheck.Interval != 10*time.Second {
		t.Errorf("health check = %+v", cfg.Config.Healthcheck)
	}
	want := "HEALTHCHECK {Test:[CMD /probe] Interval:10s Timeout:0s StartPeriod:0s StartInterval:3s Retries:0}"
	if got := cfg.History[len(cfg.History)-1].CreatedBy; got != want {
		t.Errorf("history = %q, want %q", got, want)
	}

	ref := testRegistry(t) + "/health:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, res.Image); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, df string
		want     time.Duration
	}{
		{"from the image", "FROM " + ref + "\nLABEL a=b\n", 3 * time.Second},
		{"from a stage", "FROM " + ref + " AS a\nFROM a\nLABEL a=b\n", 3 * time.Second},
		{"none", "FROM " + ref + "\nHEALTHCHECK NONE\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustBuildIn(t, tc.df, map[string]string{}, amd)
			raw, err := res.Image.RawConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := startInterval(t, raw); d != tc.want {
				t.Errorf("StartInterval = %v, want %v", d, tc.want)
			}
		})
	}
}
