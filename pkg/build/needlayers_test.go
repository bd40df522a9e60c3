package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/buildcrew/builder/pkg/cache"
)

// TestUnexportedStageWritesNoLayers: a build stage whose files are only
// copied from writes no layer tarball; the result is the same. With a
// step cache, or built FROM by the target, its layers are written.
func TestUnexportedStageWritesNoLayers(t *testing.T) {
	r := &scriptedRunner{scripts: map[string]func(string) error{"make": func(root string) error {
		if err := os.MkdirAll(filepath.Join(root, "out"), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(root, "out/app"), []byte("binary\n"), 0o755)
	}}}
	layerFiles := func(work string) int {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(work, "builder-*", "layers", "*"))
		return len(files)
	}
	tests := []struct {
		name, df string
		cache    bool
		want     int // layer tarballs written
	}{
		{"copied from", "FROM scratch AS build\nCOPY src /src\nWORKDIR /w\nRUN make\nFROM scratch\nCOPY --from=build /out/app /app\n", false, 1},
		{"built FROM", "FROM scratch AS build\nCOPY src /src\nRUN make\nFROM build\nCOPY src /again\n", false, 3},
		{"with a cache", "FROM scratch AS build\nCOPY src /src\nRUN make\nFROM scratch\nCOPY --from=build /out/app /app\n", true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			res := mustBuildIn(t, tt.df, map[string]string{"src": "s"}, func(o *Options) {
				o.Runner, o.WorkDir, o.KeepWorkDir = r, work, true
				if tt.cache {
					o.Cache = &cache.Layout{Dir: t.TempDir()}
				}
			})
			if got := layerFiles(work); got != tt.want {
				t.Errorf("%d layer tarballs written, want %d", got, tt.want)
			}
			fs := flatten(t, res.Image)
			if fs["app"].Body != "binary\n" && fs["out/app"].Body != "binary\n" {
				t.Errorf("the result lacks the built file: %v", fs)
			}
			entries, _ := filepath.Glob(filepath.Join(work, "builder-*"))
			for _, e := range entries {
				os.RemoveAll(e)
			}
		})
	}
}
