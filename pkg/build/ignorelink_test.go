package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIgnoredThroughSymlink: a symlink in the context never reaches what
// .dockerignore leaves out. BuildKit sends the context without those
// files, so a COPY through the link finds nothing; here the link is
// followed inside the context, and the path it reaches is judged too.
func TestIgnoredThroughSymlink(t *testing.T) {
	files := map[string]string{".dockerignore": "secrets\n", "secrets/key": "TOPSECRET", "app/main.go": "package main"}
	for _, tt := range []struct{ df, wantErr string }{
		{"FROM scratch\nCOPY link/key /k\n", `"link/key" not found`},
		{"FROM scratch\nCOPY abs/key /k\n", `"abs/key" not found`},
		{"FROM scratch\nCOPY link /d/\n", `"link" not found`},
		{"FROM scratch\nCOPY lin[k]/* /d/\n", ""},
		{"FROM scratch\nCOPY . /all/\n", ""},
	} {
		t.Run(tt.df, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range files {
				write(t, dir, name, body)
			}
			for link, to := range map[string]string{"link": "secrets", "abs": "/secrets"} {
				if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			write(t, dir, "Dockerfile", tt.df)
			res, err := buildIn(t, tt.df, map[string]string{}, func(o *Options) { o.ContextDir = dir })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for p, e := range flatten(t, res.Image) {
				if strings.Contains(e.Body, "TOPSECRET") {
					t.Errorf("%s holds the ignored key", p)
				}
			}
		})
	}
}
