package stephelper

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsStayMinimal keeps the helper's imports to what package os
// imports itself: each other one lets dozens of the builder's package
// initializers run first in every RUN step (see the package comment).
func TestImportsStayMinimal(t *testing.T) {
	allowed := map[string]bool{"errors": true, "io": true, "os": true, "runtime": true, "syscall": true, "unsafe": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s imports %s: the helper may import only %v", name, p, allowed)
			}
		}
	}
}
