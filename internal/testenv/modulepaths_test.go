package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestModuleFileNames keeps every file of the repository nameable in a Go
// module zip: the module proxy refuses a module with a file named, say,
// "q?" or "b*c", and `go get` of the library with it. Test contexts that
// need such names make them in their setup.
func TestModuleFileNames(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skipf("not at the module root: %v", err)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if p == root {
			return nil
		}
		if !moduleNameOK(d.Name()) {
			rel, _ := filepath.Rel(root, p)
			t.Errorf("%s: a Go module cannot hold this name", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// moduleNameOK is golang.org/x/mod/module's rule for a file path element:
// ASCII letters, digits and a few punctuation marks, or any Unicode
// letter.
func moduleNameOK(name string) bool {
	if name == "" || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r >= utf8.RuneSelf {
			if !unicode.IsLetter(r) {
				return false
			}
			continue
		}
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&()+,-.=@[]^_{}~ ", r)) {
			return false
		}
	}
	return true
}
