package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// BusyboxFor returns a static busybox for linux/arch: the machine's own
// for its architecture, else Debian's busybox-static package for arch,
// fetched with apt-get download once and kept in DebianCacheDir. That
// needs the architecture added to dpkg (dpkg --add-architecture ARCH;
// apt-get update), as .ci/run does.
func BusyboxFor(arch string) (string, error) {
	if arch == runtime.GOARCH {
		p, err := exec.LookPath("busybox")
		if err != nil {
			return "", fmt.Errorf("no busybox here (Debian package busybox-static): %w", err)
		}
		return p, nil
	}
	dir := filepath.Join(DebianCacheDir(), "busybox-static-"+arch)
	bin := filepath.Join(dir, "bin", "busybox")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp, err := os.MkdirTemp("", "busybox-"+arch+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	get := exec.Command("apt-get", "download", "busybox-static:"+arch)
	get.Dir = tmp
	if out, err := get.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download busybox-static:%s (add the architecture first: dpkg --add-architecture %s && apt-get update): %v\n%s", arch, arch, err, Tail(string(out), 5))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download busybox-static:%s left %d packages", arch, len(debs))
	}
	building := dir + ".building"
	os.RemoveAll(building)
	if err := RunSteps([][]string{{"dpkg-deb", "-x", debs[0], building}}); err != nil {
		return "", err
	}
	if err := os.Rename(building, dir); err != nil {
		return "", err
	}
	return bin, nil
}

// MakeBusyboxIndex pushes a busybox image per architecture to ref-ARCH,
// made with umoci from BusyboxFor(ARCH) with every applet linked, and an
// OCI index of them to ref with crane. Nothing runs the foreign busybox:
// the applets are the machine's busybox's list.
func MakeBusyboxIndex(dir, ref string, archs ...string) error {
	host, err := BusyboxFor(runtime.GOARCH)
	if err != nil {
		return err
	}
	list, err := exec.Command(host, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("%s --list-full: %w", host, err)
	}
	appendArgs := []string{"index", "append", "--insecure", "-t", ref}
	for _, arch := range archs {
		bb, err := BusyboxFor(arch)
		if err != nil {
			return err
		}
		root := filepath.Join(dir, arch, "rootfs")
		if err := busyboxRoot(root, bb, strings.Fields(string(list))); err != nil {
			return err
		}
		layout := filepath.Join(dir, arch, "layout")
		steps := UmociImageFor(layout, root, "/bin/sh", arch)
		steps = append(steps, []string{"skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:" + layout + ":latest", "docker://" + ref + "-" + arch})
		if err := RunSteps(steps); err != nil {
			return err
		}
		appendArgs = append(appendArgs, "-m", ref+"-"+arch)
	}
	return RunSteps([][]string{append([]string{"crane"}, appendArgs...)})
}

// busyboxRoot lays out a busybox root filesystem at root.
func busyboxRoot(root, busybox string, applets []string) error {
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777|os.ModeSticky); err != nil {
		return err
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "bin/busybox" {
			continue
		}
		rel, err := filepath.Rel(filepath.Dir("/"+a), "/bin/busybox")
		if err != nil {
			return err
		}
		if err := os.Symlink(rel, filepath.Join(root, a)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return WriteFiles(root, 0o644, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	})
}
