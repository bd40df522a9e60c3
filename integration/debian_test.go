package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var debian struct {
	once sync.Once
	ref  string
	err  string
}

// debianCache keeps the Debian base between runs: debootstrap takes a
// minute, a copy from the cache a few seconds.
func debianCache() string {
	if d := os.Getenv("BUILDER_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/builder-tests"
}

// debianBase pushes a Debian bookworm minbase, made by debootstrap and
// umoci, to the test registry once, and returns its reference.
func debianBase(t *testing.T) string {
	t.Helper()
	debian.once.Do(func() {
		layout := filepath.Join(debianCache(), "debian-bookworm-"+runtime.GOARCH)
		if _, err := os.Stat(filepath.Join(layout, "index.json")); err != nil {
			if msg := makeDebian(layout); msg != "" {
				debian.err = msg
				return
			}
		}
		ref := env.registry + "/library/debian:bookworm"
		if out, err := exec.Command("skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:"+layout+":latest", "docker://"+ref).CombinedOutput(); err != nil {
			debian.err = "pushing the Debian base: " + string(out)
			return
		}
		debian.ref = ref
	})
	if debian.err != "" {
		t.Fatal(debian.err)
	}
	return debian.ref
}

// makeDebian runs debootstrap and stores the result as an OCI layout.
func makeDebian(layout string) string {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "the Debian cases need debootstrap (Debian package debootstrap)"
	}
	tmp, err := os.MkdirTemp(env.tmp, "debootstrap-")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "rootfs")
	building := layout + ".building"
	os.RemoveAll(building)
	steps := [][]string{
		{"debootstrap", "--variant=minbase", "bookworm", root, "http://deb.debian.org/debian"},
		{"chroot", root, "apt-get", "clean"},
		{"sh", "-c", "rm -rf " + root + "/var/lib/apt/lists/* " + root + "/dev/* " + root + "/var/log/*.log " + root + "/etc/resolv.conf"},
		{"mkdir", "-p", filepath.Dir(layout)},
	}
	steps = append(steps, umociImage(building, root, "/bin/bash")...)
	steps = append(steps, []string{"mv", building, layout})
	if err := runSteps(steps); err != nil {
		return err.Error()
	}
	return ""
}
