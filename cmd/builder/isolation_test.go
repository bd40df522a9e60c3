package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/isolation"
)

func fakeHost(inContainer bool, exe string) host {
	return host{
		inContainer: func() (bool, string) { return inContainer, "the test says so" },
		namespaces:  func() error { return nil },
		executable:  func() (string, error) { return exe, nil },
		systemPaths: func() ([]string, error) { return []string{"/proc", "/sys", "/dev", "/var/run", "/kaniko"}, nil },
	}
}

// noNamespaces is h where chroot isolation cannot make namespaces.
func noNamespaces(h host) host {
	h.namespaces = func() error { return isolation.ErrNoNamespaces }
	return h
}

func TestSetIsolation(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		host     host
		wantRoot string
		wantErr  string
		ignore   []string
	}{
		{name: "auto in the builder's image", host: fakeHost(true, "/kaniko/executor"), wantRoot: "/",
			ignore: []string{"/proc", "/sys", "/dev", "/var/run", "/kaniko"}},
		{name: "auto in another container stays chroot", host: fakeHost(true, "/usr/local/bin/builder")},
		{name: "auto on a machine", host: fakeHost(false, "/kaniko/executor")},
		{name: "auto in the builder's image without markers or namespaces", host: noNamespaces(fakeHost(false, "/kaniko/executor")),
			wantRoot: "/", ignore: []string{"/proc", "/sys", "/dev", "/var/run", "/kaniko"}},
		{name: "no namespaces outside the builder's image stays chroot", host: noNamespaces(fakeHost(false, "/usr/bin/builder"))},
		{name: "none outside a container", args: []string{"--isolation", "none"}, host: fakeHost(false, "/usr/bin/builder"),
			wantErr: "does not look like a container (the test says so)"},
		{name: "none forced", args: []string{"--isolation", "none", "--force"}, host: fakeHost(false, "/usr/bin/builder"), wantRoot: "/",
			ignore: []string{"/proc", "/sys", "/dev", "/var/run", "/kaniko"}},
		{name: "ignore paths and /var/run kept", args: []string{"--isolation", "none", "--ignore-path", "/cache", "--ignore-var-run=false"},
			host: fakeHost(true, "/x/builder"), wantRoot: "/", ignore: []string{"/proc", "/sys", "/dev", "/kaniko", "/cache"}},
		{name: "relative ignore path", args: []string{"--isolation", "none", "--ignore-path", "cache"}, host: fakeHost(true, "/x"),
			wantErr: "give an absolute path"},
		{name: "chroot asked", args: []string{"--isolation", "chroot"}, host: fakeHost(true, "/kaniko/executor")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseFlags(t, tt.args...)
			var bo build.Options
			var warn strings.Builder
			err := f.setIsolation(&bo, tt.host, &warn)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if bo.Root != tt.wantRoot {
				t.Errorf("root %q, want %q", bo.Root, tt.wantRoot)
			}
			if tt.wantRoot == "" {
				if bo.Runner != nil {
					t.Errorf("runner %T, want the default (chroot)", bo.Runner)
				}
				return
			}
			if _, ok := bo.Runner.(isolation.None); !ok {
				t.Errorf("runner %T, want isolation.None", bo.Runner)
			}
			if diff := cmp.Diff(tt.ignore, bo.Ignore); diff != "" {
				t.Errorf("ignored paths (-want +got):\n%s", diff)
			}
		})
	}
	failing := fakeHost(true, "/kaniko/executor")
	failing.systemPaths = func() ([]string, error) { return nil, errors.New("no mountinfo") }
	if err := parseFlags(t).setIsolation(&build.Options{}, failing, &strings.Builder{}); err == nil {
		t.Error("a failure to list mount points was ignored")
	}
}

func TestDefaultWorkDir(t *testing.T) {
	f := parseFlags(t)
	f.defaultWorkDir(fakeHost(true, "/kaniko/executor"))
	if f.workDir != "/kaniko/work" {
		t.Errorf("work dir %q in the builder's image", f.workDir)
	}
	f = parseFlags(t)
	f.defaultWorkDir(fakeHost(true, "/usr/bin/builder"))
	if f.workDir != "" {
		t.Errorf("work dir %q elsewhere; want the default", f.workDir)
	}
	f = parseFlags(t, "--kaniko-dir", "/k")
	f.defaultWorkDir(fakeHost(true, "/kaniko/executor"))
	if f.workDir != "" {
		t.Errorf("work dir %q overrides --kaniko-dir", f.workDir)
	}
}
