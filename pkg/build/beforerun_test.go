package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBeforeRun: BeforeRun is asked before each RUN command, with the
// step's root already made; its error fails the build before any command
// runs, and a build without RUN never asks it.
func TestBeforeRun(t *testing.T) {
	base := plainBase(t)
	refused := errors.New("the registry says no")
	tests := []struct {
		name       string
		dockerfile string
		answer     error
		asked      int32
		ran        []string
	}{
		{"yes", "FROM " + base + "\nRUN first\nCOPY input /input\nRUN second\n", nil, 2, []string{"first", "second"}},
		{"no", "FROM " + base + "\nCOPY input /input\nRUN first\nRUN second\n", refused, 1, nil},
		{"no RUN", "FROM " + base + "\nCOPY input /input\n", refused, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "Dockerfile", tt.dockerfile)
			write(t, dir, "input", "in\n")
			r := &scriptedRunner{scripts: map[string]func(string) error{"first": writes("first", "1\n"), "second": writes("second", "2\n")}}
			var asked atomic.Int32
			work := t.TempDir()
			res, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: work, Runner: r, Platform: "linux/amd64",
				BeforeRun: func(ctx context.Context) error {
					if asked.Add(1) == 1 && !unpacked(work, "etc/motd") {
						// The question is meant to overlap the unpacking.
						t.Error("asked before the step's root was made")
					}
					return tt.answer
				}})
			if res != nil {
				defer res.Close()
			}
			if tt.answer != nil && tt.asked > 0 {
				if !errors.Is(err, refused) {
					t.Fatalf("err = %v, want the refusal", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := asked.Load(); got != tt.asked {
				t.Errorf("asked %d times, want %d", got, tt.asked)
			}
			if got := r.took(); len(got) != len(tt.ran) {
				t.Errorf("ran %q, want %q", got, tt.ran)
			}
		})
	}
}

// unpacked tells whether a stage's root in the work directory holds rel.
func unpacked(work, rel string) bool {
	found := false
	filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, filepath.FromSlash("/roots/stage-0/"+rel)) {
			found = true
		}
		return nil
	})
	return found
}
