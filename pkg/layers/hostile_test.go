package layers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
)

// outside records what the hostile archives aim at, to compare after.
type outside struct {
	base     []string
	target   string
	tmp      []string
	passwd   [32]byte
	baseDir  string
	tmpGlobs string
}

func look(t *testing.T, base string) outside {
	t.Helper()
	o := outside{baseDir: base, tmpGlobs: "/tmp/builder-hostile-*"}
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		o.base = append(o.base, e.Name())
	}
	sort.Strings(o.base)
	data, _ := os.ReadFile(filepath.Join(base, "ESCAPE-TARGET"))
	o.target = string(data)
	o.tmp, _ = filepath.Glob(o.tmpGlobs)
	passwd, _ := os.ReadFile("/etc/passwd")
	o.passwd = sha256.Sum256(passwd)
	return o
}

// TestHostileArchives unpacks every archive of the corpus as a layer and
// as an ADD archive: nothing outside the root may appear, change or go.
func TestHostileArchives(t *testing.T) {
	corpus := testenv.HostileArchives()
	if len(corpus) < 20 {
		t.Fatalf("the corpus has %d archives, want at least 20", len(corpus))
	}
	for _, h := range corpus {
		for _, whiteouts := range []bool{true, false} {
			name := h.Name
			if !whiteouts {
				name += " (ADD)"
			}
			t.Run(name, func(t *testing.T) {
				base := t.TempDir()
				root := filepath.Join(base, "root")
				must(t, os.Mkdir(root, 0o755))
				must(t, os.WriteFile(filepath.Join(base, "ESCAPE-TARGET"), []byte("keep me"), 0o644))
				for link, target := range h.Setup {
					must(t, os.Symlink(target, filepath.Join(root, link)))
				}
				before := look(t, base)
				err := Extract(context.Background(), root, bytes.NewReader(h.Tar), ExtractOptions{Whiteouts: whiteouts})
				after := look(t, base)
				if !equalStrings(before.base, after.base) || before.target != after.target {
					t.Errorf("outside the root: %v (%q) became %v (%q)", before.base, before.target, after.base, after.target)
				}
				if !equalStrings(before.tmp, after.tmp) {
					t.Errorf("/tmp gained %v", after.tmp)
					for _, p := range after.tmp {
						os.RemoveAll(p)
					}
				}
				if before.passwd != after.passwd {
					t.Error("/etc/passwd changed")
				}
				if (h.Name == "absurd size" || h.Name == "very long name") && err == nil {
					t.Errorf("%s was accepted", h.Name)
				}
			})
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
