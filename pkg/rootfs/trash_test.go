package rootfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTrash(t *testing.T) {
	work := t.TempDir()
	tr := NewTrash(filepath.Join(work, "trash"))
	if err := os.Mkdir(tr.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(work, "root")
	for _, p := range []string{"a/b/c", "a/d", "e"} {
		if err := os.MkdirAll(filepath.Join(tree, p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Discard(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Errorf("the discarded tree is still in place: %v", err)
	}
	if err := tr.Discard(filepath.Join(work, "never-was")); err != nil {
		t.Errorf("discarding a missing path: %v", err)
	}
	if err := tr.Wait(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tr.dir); len(left) != 0 {
		t.Errorf("the trash still holds %v", left)
	}
}
