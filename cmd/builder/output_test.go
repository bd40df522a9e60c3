package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildcrew/builder/pkg/push"
)

func TestOutputSpecs(t *testing.T) {
	tests := []struct {
		args    []string
		want    push.Options
		wantErr string
	}{
		{args: []string{"-o", "type=local,dest=out"}, want: push.Options{FilesystemDir: "out", NoPush: true}},
		{args: []string{"-o", "out"}, want: push.Options{FilesystemDir: "out", NoPush: true}},
		{args: []string{"-o", "-"}, want: push.Options{FilesystemTarPath: "-", NoPush: true}},
		{args: []string{"--output", "type=tar,dest=fs.tar", "-o", "type=oci,dest=img.tar", "-o", "type=docker,dest=d.tar"},
			want: push.Options{FilesystemTarPath: "fs.tar", OCIArchivePath: "img.tar", TarPath: "d.tar", NoPush: true}},
		{args: []string{"-o", `type=registry,"name=r.example/a:1,r.example/a:2"`},
			want: push.Options{Destinations: []string{"r.example/a:1", "r.example/a:2"}}},
		{args: []string{"-o", "type=image,name=r.example/a:1,push=true", "-o", "type=local,dest=out"},
			want: push.Options{Destinations: []string{"r.example/a:1"}, FilesystemDir: "out"}},
		{args: []string{"-o", "type=image,name=r.example/a:1"}, wantErr: "add push=true"},
		{args: []string{"-o", "type=oci"}, wantErr: "type=oci needs dest="},
		{args: []string{"-o", "type=zip,dest=x"}, wantErr: `unknown type "zip"`},
		{args: []string{"-o", "type=local,dest=x,compression=zstd"}, wantErr: "compression= is not supported for type=local"},
		{args: []string{"-o", "type=local,dest=-"}, wantErr: "type=local writes a directory"},
		{args: []string{"-o", "dest=x"}, wantErr: "no type= given"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := parseFlags(t, append([]string{"--context", t.TempDir()}, tt.args...)...)
			f.dockerFace = true
			_, po, err := f.options()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := push.Options{Destinations: po.Destinations, NoPush: po.NoPush, TarPath: po.TarPath, OCIArchivePath: po.OCIArchivePath,
				FilesystemDir: po.FilesystemDir, FilesystemTarPath: po.FilesystemTarPath}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("push options (-want +got):\n%s", diff)
			}
			if f.nothingPushed {
				t.Error("an output given, yet the build would say nothing was pushed")
			}
		})
	}
}

// TestOutputLocal: docker buildx build -o DIR and -o - as CI pipelines use
// them to get artifacts out of a Dockerfile.
func TestOutputLocal(t *testing.T) {
	ctx := t.TempDir()
	files := map[string]string{"Dockerfile": "FROM scratch AS build\nCOPY a.txt /out/a.txt\nFROM scratch\nCOPY --from=build /out/ /\n", "a.txt": "artifact\n"}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(ctx, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, stderr, err := execute(t, "build", ctx, "-o", out, "--work-dir", t.TempDir()); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "a.txt")); err != nil || string(b) != "artifact\n" {
		t.Errorf("out/a.txt = %q, %v", b, err)
	}
	stdout, stderr, err := execute(t, "build", ctx, "-o", "-", "--work-dir", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader([]byte(stdout)))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stdout is not only a tar: %v", err)
		}
		names = append(names, h.Name)
	}
	if !slices.Contains(names, "a.txt") || !strings.Contains(stderr, "sha256:") {
		t.Errorf("the tar on stdout holds %v; stderr:\n%s", names, stderr)
	}
}
