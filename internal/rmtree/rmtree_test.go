package rmtree

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRemoveAll removes a tree of directories, files, hard links and
// symlinks (one pointing outside, which must stay), a missing path, and a
// file.
func TestRemoveAll(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "root")
	for i := range 20 {
		d := filepath.Join(root, "d"+strconv.Itoa(i), "sub", "deeper")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			f := filepath.Join(d, "f"+strconv.Itoa(j))
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(f, f+".link"); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(filepath.Dir(outside), filepath.Join(d, "up")); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(root); !os.IsNotExist(err) {
		t.Errorf("root still there: %v", err)
	}
	if data, err := os.ReadFile(outside); err != nil || string(data) != "keep" {
		t.Errorf("followed a symlink out: %q %v", data, err)
	}
	if err := RemoveAll(filepath.Join(base, "missing")); err != nil {
		t.Errorf("a missing path: %v", err)
	}
	if err := RemoveAll(outside); err != nil {
		t.Errorf("a file: %v", err)
	}
	if _, err := os.Lstat(outside); !os.IsNotExist(err) {
		t.Errorf("the file is still there: %v", err)
	}
}
