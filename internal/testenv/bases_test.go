package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDebianMirror(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	deb822 := write("debian.sources", "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: x\n\nTypes: deb\nURIs: http://mirror.example/debian/\n")
	oneLine := write("sources.list", "# comment\ndeb [signed-by=/k.gpg] http://other.example/debian bookworm main\n")
	none := write("none.list", "deb http://other.example/ubuntu jammy main\n")
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{deb822, oneLine}, "http://mirror.example/debian"},
		{[]string{none, oneLine}, "http://other.example/debian"},
		{[]string{none}, ""},
	} {
		got, err := debianMirror(tc.files)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%v: %q, %v; want %q", tc.files, got, err, tc.want)
		}
	}
}
