package isolation

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits bound what one RUN step may use at once, as `docker run
// --pids-limit` and `--memory` do; zero leaves a resource unbounded. They
// are enforced by a cgroup of the step's own, made under the builder's
// cgroup (cgroup v1 controllers where the machine mounts them, else
// cgroup v2), so a fork bomb ends the step, not the machine.
type Limits struct {
	Pids   int64 // processes and threads
	Memory int64 // bytes
}

func (l Limits) none() bool { return l.Pids <= 0 && l.Memory <= 0 }

// stepCgroup is the cgroup directories of one step, one per hierarchy.
type stepCgroup struct{ dirs []string }

// newStepCgroup makes a cgroup holding limits.
func newStepCgroup(l Limits) (*stepCgroup, error) {
	hier, err := readHierarchies()
	if err != nil {
		return nil, fmt.Errorf("resource limits: %w", err)
	}
	name := "builder-step-" + rand.Text()
	cg := &stepCgroup{}
	type setting struct{ controller, v1file, v2file, value string }
	var want []setting
	if l.Pids > 0 {
		want = append(want, setting{"pids", "pids.max", "pids.max", strconv.FormatInt(l.Pids, 10)})
	}
	if l.Memory > 0 {
		v := strconv.FormatInt(l.Memory, 10)
		want = append(want, setting{"memory", "memory.limit_in_bytes", "memory.max", v})
	}
	for _, s := range want {
		dir, file, err := hier.place(s.controller, name, s.v1file, s.v2file)
		if err == nil && !slices.Contains(cg.dirs, dir) {
			err = os.Mkdir(dir, 0o700)
			if err == nil {
				cg.dirs = append(cg.dirs, dir)
			}
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, file), []byte(s.value), 0)
		}
		if err != nil {
			cg.remove()
			return nil, fmt.Errorf("resource limits: the %s controller: %w", s.controller, err)
		}
	}
	return cg, nil
}

// add moves a process into the step's cgroup.
func (c *stepCgroup) add(pid int) error {
	for _, d := range c.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("resource limits: moving the step into %s: %w", d, err)
		}
	}
	return nil
}

// remove kills what is left in the cgroup and deletes it. The step's PID
// namespace is gone by then; its processes may still be on their way out.
func (c *stepCgroup) remove() error {
	var errs []error
	for _, d := range c.dirs {
		os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0)
		var err error
		for i := 0; i < 100; i++ {
			if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// hierarchies is where this process's cgroups are.
type hierarchies struct {
	v1     map[string]string // controller -> this process's directory
	v2     string            // this process's cgroup v2 directory; "" if none
	v2root string            // where cgroup2 is mounted
}

// place picks the directory of a new cgroup name with controller: under
// this process's cgroup in the v1 hierarchy that has it, or under the
// nearest cgroup v2 ancestor (this process's own first) whose children
// get it. It returns the directory and the file that sets the limit.
func (h *hierarchies) place(controller, name, v1file, v2file string) (string, string, error) {
	if dir, ok := h.v1[controller]; ok {
		return filepath.Join(dir, name), v1file, nil
	}
	if h.v2 == "" {
		return "", "", errors.New("neither cgroup v1 nor v2 offers it here")
	}
	for dir := h.v2; strings.HasPrefix(dir, h.v2root); dir = filepath.Dir(dir) {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
		if err == nil && slices.Contains(strings.Fields(string(data)), controller) {
			return filepath.Join(dir, name), v2file, nil
		}
		if dir == h.v2root {
			break
		}
	}
	return "", "", fmt.Errorf("no cgroup v2 ancestor of %s gives its children the controller (cgroup.subtree_control)", h.v2)
}

// readHierarchies reads /proc/self/cgroup and /proc/self/mountinfo.
func readHierarchies() (*hierarchies, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &hierarchies{v1: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			if m, ok := mounts["cgroup2"]; ok {
				h.v2root = m.dir
				h.v2 = m.join(parts[2])
			}
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if m, ok := mounts[c]; ok {
				h.v1[c] = m.join(parts[2])
			}
		}
	}
	return h, sc.Err()
}

// cgroupMount is where a hierarchy is mounted, and which of its cgroups
// is the mount's root (not "/" in a container that sees only its own).
type cgroupMount struct{ dir, root string }

// join gives the directory of the cgroup /proc/self/cgroup names.
func (m cgroupMount) join(cgroup string) string {
	rel := strings.TrimPrefix(path.Clean("/"+cgroup), strings.TrimSuffix(m.root, "/"))
	return filepath.Join(m.dir, path.Clean("/"+rel))
}

// cgroupMounts maps each v1 controller to where its hierarchy is mounted,
// and "cgroup2" to the v2 mount.
func cgroupMounts() (map[string]cgroupMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]cgroupMount{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mountpoint options ... - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		m := cgroupMount{dir: fields[4], root: fields[3]}
		switch tail[0] {
		case "cgroup2":
			if _, ok := out["cgroup2"]; !ok {
				out["cgroup2"] = m
			}
		case "cgroup":
			for _, opt := range strings.Split(tail[2], ",") {
				if _, ok := out[opt]; !ok {
					out[opt] = m
				}
			}
		}
	}
	return out, sc.Err()
}
