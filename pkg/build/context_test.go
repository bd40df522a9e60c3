package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerfileLinkStaysInContext: a context's Dockerfile (or
// .dockerignore) that is a symlink to a host file is resolved inside the
// context, as BuildKit does: the host file is neither read nor echoed in
// an error.
func TestDockerfileLinkStaysInContext(t *testing.T) {
	host := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(host, []byte("HOST-SECRET-CONTENT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{host, "../../../../../../../../../.." + host} {
		dir := t.TempDir()
		if err := os.Symlink(link, filepath.Join(dir, "Dockerfile")); err != nil {
			t.Fatal(err)
		}
		_, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir()})
		if err == nil || strings.Contains(err.Error(), "HOST-SECRET") {
			t.Errorf("Dockerfile -> %s: err = %v; want one that reads nothing of the host", link, err)
		}
	}
	// A .dockerignore linking out is not read either: with the host's
	// patterns ("*") the COPY below would find nothing.
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM scratch\nCOPY a /a\n")
	write(t, dir, "a", "a\n")
	ignore := filepath.Join(t.TempDir(), "ignore")
	if err := os.WriteFile(ignore, []byte("*\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ignore, filepath.Join(dir, ".dockerignore")); err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the host's .dockerignore was read: %v", err)
	}
	res.Close()
}

// TestCredentialsStayOutOfTheContext: the registry credentials' directory
// inside the context (a CI job that wrote config.json into its workspace)
// is left out of it, even against a .dockerignore exception, with a
// warning.
func TestCredentialsStayOutOfTheContext(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "Dockerfile", "FROM scratch\nCOPY . /app\n")
	write(t, dir, "main.go", "package main\n")
	write(t, dir, ".docker/config.json", `{"auths":{"r":{"auth":"dG9rZW4="}}}`)
	write(t, dir, ".dockerignore", "!.docker\n")
	var progress strings.Builder
	res, err := Build(context.Background(), Options{ContextDir: dir, WorkDir: t.TempDir(), Progress: &progress,
		ExcludeFromContext: []string{filepath.Join(dir, ".docker"), "/elsewhere/.docker"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	fs := flatten(t, res.Image)
	if _, ok := fs["app/main.go"]; !ok {
		t.Errorf("the context's own files are missing: %v", fs)
	}
	for p := range fs {
		if strings.Contains(p, ".docker/") || strings.HasSuffix(p, ".docker") {
			t.Errorf("%s is in the image", p)
		}
	}
	if !strings.Contains(progress.String(), filepath.Join(dir, ".docker")+" is inside the build context") {
		t.Errorf("no warning:\n%s", progress.String())
	}
	if strings.Contains(progress.String(), "/elsewhere") {
		t.Errorf("a warning for a path outside the context:\n%s", progress.String())
	}
}
