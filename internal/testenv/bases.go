package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// MakeBusybox builds a busybox image from Debian's busybox-static with umoci
// and pushes it with skopeo: no part of the builder is involved.
func MakeBusybox(dir, ref string) error {
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "root", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777|os.ModeSticky); err != nil {
		return err
	}
	bb, _ := exec.LookPath("busybox")
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	layout := filepath.Join(dir, "layout")
	steps := [][]string{{"chroot", root, "/bin/busybox", "--install", "-s", "/bin"}}
	steps = append(steps, UmociImage(layout, root, "/bin/sh")...)
	steps = append(steps, []string{"skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:" + layout + ":latest", "docker://" + ref})
	return RunSteps(steps)
}

// UmociImage lists the umoci commands that turn the directory root into
// the single-layer image layout:latest running cmd.
func UmociImage(layout, root, cmd string) [][]string {
	return UmociImageFor(layout, root, cmd, runtime.GOARCH)
}

// UmociImageFor is UmociImage for an image of linux/arch.
func UmociImageFor(layout, root, cmd, arch string) [][]string {
	image := layout + ":latest"
	return [][]string{
		{"umoci", "init", "--layout", layout},
		{"umoci", "new", "--image", image},
		{"umoci", "insert", "--image", image, root, "/"},
		{"umoci", "config", "--image", image, "--config.cmd", cmd,
			"--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"--os", "linux", "--architecture", arch},
		{"umoci", "gc", "--layout", layout},
	}
}

// RunSteps runs commands in order and stops at the first that fails.
func RunSteps(steps [][]string) error {
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(s, " "), err, Tail(string(out), 20))
		}
	}
	return nil
}

// MakeDebian runs debootstrap (bookworm, minbase) and stores the result as
// the OCI layout layout, image "latest", without any part of the builder.
func MakeDebian(layout string) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("the Debian base needs debootstrap (Debian package debootstrap)")
	}
	tmp, err := os.MkdirTemp(filepath.Dir(layout), "debootstrap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	mirror, err := DebianMirror()
	if err != nil {
		return err
	}
	root := filepath.Join(tmp, "rootfs")
	building := layout + ".building"
	os.RemoveAll(building)
	steps := [][]string{
		{"debootstrap", "--variant=minbase", "bookworm", root, mirror},
		{"chroot", root, "apt-get", "clean"},
		{"sh", "-c", "rm -rf " + root + "/var/lib/apt/lists/* " + root + "/dev/* " + root + "/var/log/*.log " + root + "/etc/resolv.conf"},
		{"mkdir", "-p", filepath.Dir(layout)},
	}
	steps = append(steps, UmociImage(building, root, "/bin/bash")...)
	steps = append(steps, []string{"mv", building, layout})
	return RunSteps(steps)
}

// DebianMirror is the Debian archive this machine's apt uses: the first
// URIs entry ending in /debian of /etc/apt/sources.list.d/*.sources, or
// the first such "deb" line of /etc/apt/sources.list.
func DebianMirror() (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	return debianMirror(append(files, "/etc/apt/sources.list"))
}

func debianMirror(files []string) (string, error) {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			var uris []string
			switch {
			case len(fields) > 1 && fields[0] == "URIs:":
				uris = fields[1:]
			case len(fields) > 2 && fields[0] == "deb":
				uris = fields[1:2]
				if strings.HasPrefix(uris[0], "[") { // deb [options] URI ...
					for i, w := range fields {
						if strings.HasSuffix(w, "]") && i+1 < len(fields) {
							uris = fields[i+1 : i+2]
							break
						}
					}
				}
			}
			for _, u := range uris {
				if strings.HasSuffix(strings.TrimSuffix(u, "/"), "/debian") {
					return strings.TrimSuffix(u, "/"), nil
				}
			}
		}
	}
	return "", errors.New("no Debian archive (a URI ending in /debian) in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list")
}

// DebianCacheDir is where the Debian base is kept between runs:
// $BUILDER_TEST_CACHE, or /var/cache/builder-tests.
func DebianCacheDir() string {
	if d := os.Getenv("BUILDER_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/builder-tests"
}

// DebianLayout returns the cached Debian base layout, making it the first
// time (about a minute).
func DebianLayout() (string, error) {
	layout := filepath.Join(DebianCacheDir(), "debian-bookworm-"+runtime.GOARCH)
	if _, err := os.Stat(filepath.Join(layout, "index.json")); err == nil {
		return layout, nil
	}
	if err := os.MkdirAll(DebianCacheDir(), 0o755); err != nil {
		return "", err
	}
	return layout, MakeDebian(layout)
}

// PushLayout copies layout:latest to ref with skopeo.
func PushLayout(layout, ref string) error {
	return RunSteps([][]string{{"skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:" + layout + ":latest", "docker://" + ref}})
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
