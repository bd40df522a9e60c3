package isolation

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// InContainer tells whether this process runs inside a container and
// gives the evidence it found.
func InContainer() (bool, string) {
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return true, "KUBERNETES_SERVICE_HOST is set"
	}
	if v := os.Getenv("container"); v != "" {
		return true, "container=" + v + " is set"
	}
	for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(f); err == nil {
			return true, f + " exists"
		}
	}
	data, _ := os.ReadFile("/proc/1/cgroup")
	for _, word := range []string{"kubepods", "docker", "containerd", "libpod", "crio", "lxc"} {
		if strings.Contains(string(data), word) {
			return true, "/proc/1/cgroup names " + word
		}
	}
	return false, "no container runtime left its marks (KUBERNETES_SERVICE_HOST, $container, /.dockerenv, /run/.containerenv, /proc/1/cgroup)"
}

// SystemPaths lists what a build at "/" must never delete, unpack over or
// snapshot: the kernel's filesystems, /var/run, every mount point of this
// container (its volumes, secrets, /etc/hosts and the like), the directory
// of the builder's executable and the docker config directory.
func SystemPaths() ([]string, error) {
	paths := []string{"/proc", "/sys", "/dev", "/var/run"}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("listing mount points: %w", err)
	}
	defer f.Close()
	mounts, err := mountPoints(f)
	if err != nil {
		return nil, fmt.Errorf("listing mount points: %w", err)
	}
	paths = append(paths, mounts...)
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			paths = append(paths, filepath.Dir(exe))
		}
	}
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		paths = append(paths, dir)
	} else if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".docker"))
	}
	return paths, nil
}

// MountPoints lists this process's mount points but "/".
func MountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mountPoints(f)
}

// mountPoints reads mountinfo and returns every mount point but "/".
func mountPoints(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			return nil, fmt.Errorf("malformed line %q", sc.Text())
		}
		if p := unescapeMount(fields[4]); p != "/" {
			out = append(out, p)
		}
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
