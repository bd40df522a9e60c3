package layers

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIgnore(t *testing.T) {
	ig := NewIgnore("/proc", "var/run", "/etc/hosts", "/")
	tests := []struct {
		rel           string
		covers, below bool
	}{
		{"proc", true, false},
		{"proc/1/status", true, false},
		{"procfs", false, false},
		{"var", false, true},
		{"var/run/x", true, false},
		{"var/lib", false, false},
		{"etc", false, true},
		{"", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			if got := ig.Covers(tt.rel); got != tt.covers {
				t.Errorf("Covers = %v, want %v", got, tt.covers)
			}
			if got := ig.Below(tt.rel); got != tt.below {
				t.Errorf("Below = %v, want %v", got, tt.below)
			}
		})
	}
	if diff := cmp.Diff([]string{"etc/hosts", "proc", "var/run"}, ig.Paths()); diff != "" {
		t.Errorf("Paths (-want +got):\n%s", diff)
	}
}

func TestClearKeepsIgnoredPaths(t *testing.T) {
	root := t.TempDir()
	extract(t, root, tarOf(t, dir("etc/"), reg("etc/hosts"), reg("etc/passwd"), dir("bin/"), reg("bin/sh"),
		dir("workspace/"), reg("workspace/Dockerfile"), reg("top")), ExtractOptions{})
	must(t, Clear(context.Background(), root, NewIgnore("/etc/hosts", "/workspace")))
	want := []string{"etc/", "etc/hosts", "workspace/", "workspace/Dockerfile"}
	if diff := cmp.Diff(want, list(t, root)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	must(t, Clear(context.Background(), root, nil))
	if got := list(t, root); len(got) != 0 {
		t.Errorf("Clear with nothing ignored left %v", got)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("Clear removed the root itself: %v", err)
	}
}

func TestExtractKeepsIgnoredPaths(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "kaniko"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "kaniko/executor"), []byte("me"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/resolv.conf"), []byte("mounted"), 0o644))
	keep := NewIgnore("/kaniko", "/etc/resolv.conf")
	lower := tarOf(t, dir("etc/"), reg("etc/resolv.conf"), reg("etc/passwd"), dir("kaniko/"), reg("kaniko/executor"))
	extract(t, root, lower, ExtractOptions{Whiteouts: true, Spare: keep})
	upper := tarOf(t, reg("etc/.wh..wh..opq"), reg(".wh.kaniko"), reg("etc/group"))
	extract(t, root, upper, ExtractOptions{Whiteouts: true, Spare: keep})
	gone := tarOf(t, reg(".wh.etc"))
	extract(t, root, gone, ExtractOptions{Whiteouts: true, Spare: keep})

	want := []string{"etc/", "etc/resolv.conf", "kaniko/", "kaniko/executor"}
	if diff := cmp.Diff(want, list(t, root)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	for p, content := range map[string]string{"kaniko/executor": "me", "etc/resolv.conf": "mounted"} {
		data, err := os.ReadFile(filepath.Join(root, p))
		must(t, err)
		if string(data) != content {
			t.Errorf("%s = %q, want the original %q", p, data, content)
		}
	}
}
