package isolation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/buildcrew/builder/pkg/isolation/internal/stephelper"
)

// Chroot runs commands with chroot isolation: new mount, PID, UTS and IPC
// namespaces (and network, for --network=none), the root pivoted to the
// stage's directory, inside Docker's default container boundary: its
// capabilities and seccomp profile, /proc with runc's read-only and masked
// paths, a read-only /sys, a small /dev, no device nodes anywhere else
// (nodev), and no descriptor of the builder's. The step's own resolv.conf
// and hosts are bound in read-only, as BuildKit binds them. It needs root (or
// CAP_SYS_ADMIN). The helper is this same binary, started again:
// importing the package installs it. See docs/security.md.
type Chroot struct {
	// TempDir holds the files a step sees as /etc/resolv.conf and
	// /etc/hosts. It must exist.
	TempDir string
	// Limits bound each step's processes and memory.
	Limits Limits

	seccomp seccompOnce
}

// Run runs spec.Args and waits for it. Cancelling ctx kills the whole
// process tree of the step. A command that exits non-zero gives *ExitError.
func (c *Chroot) Run(ctx context.Context, spec *Spec) (err error) {
	if len(spec.Args) == 0 {
		return errors.New("no command to run")
	}
	var filter []byte
	if !spec.Insecure {
		if filter, err = c.filter(); err != nil {
			return err
		}
	}
	st := &stubs{root: spec.Root}
	var copies []string
	defer func() {
		// The step's copies of hosts, resolv.conf and its secrets go,
		// whatever happened; they are bound read-only (as BuildKit binds
		// them) and never reach a layer.
		for _, p := range copies {
			os.Remove(p)
		}
		if rerr := st.remove(); rerr != nil && err == nil {
			err = fmt.Errorf("removing mount points: %w", rerr)
		}
	}()
	cfg, err := c.prepare(spec, st, &copies)
	if err != nil {
		return err
	}
	cfg.Seccomp = filter
	return runHelper(ctx, spec, cfg, c.Limits)
}

func (c *Chroot) prepare(spec *Spec, st *stubs, copies *[]string) (*stephelper.Config, error) {
	hostname := spec.Hostname
	if hostname == "" {
		hostname = defaultHostname
	}
	cfg := &stephelper.Config{
		Root: spec.Root, Args: spec.Args, Env: spec.Env, Dir: spec.Dir,
		UID: spec.UID, GID: spec.GID, Groups: spec.Groups,
		Hostname: hostname, NetNone: spec.Network == "none", Files: spec.Files, Insecure: spec.Insecure,
	}
	for _, m := range []string{"proc", "dev", "sys"} {
		ok, err := st.ensure("/"+m, true)
		if err != nil {
			return nil, err
		}
		if ok {
			cfg.Mounts = append(cfg.Mounts, m)
		}
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// The host's entries (a Pod's hostAliases among them), plus the step's
	// own name.
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if len(hosts) == 0 {
		hosts = []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	}
	if hosts[len(hosts)-1] != '\n' {
		hosts = append(hosts, '\n')
	}
	hosts = append(hosts, fmt.Sprintf("127.0.0.1\t%s\n", hostname)...)
	for _, f := range []struct {
		rel     string
		content []byte
	}{{"/etc/resolv.conf", resolv}, {"/etc/hosts", hosts}} {
		ok, err := st.ensure(f.rel, false)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		tmp, err := privateCopy(c.TempDir, "etc-*", f.content, 0o644)
		if err != nil {
			return nil, err
		}
		*copies = append(*copies, tmp)
		// Read-only, as BuildKit binds them: a step's edit fails there too.
		cfg.Binds = append(cfg.Binds, stephelper.Bind{Source: tmp, Target: f.rel, ReadOnly: true})
	}
	for _, sec := range spec.Secrets {
		ok, err := st.ensure(sec.Target, false)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("cannot mount a secret at %s: something else is in the way", sec.Target)
		}
		src, err := privateCopy(c.TempDir, "secret-*", sec.Data, os.FileMode(sec.Mode&0o777))
		if err != nil {
			return nil, fmt.Errorf("preparing a secret: %w", err)
		}
		*copies = append(*copies, src)
		if err := os.Chown(src, int(sec.UID), int(sec.GID)); err != nil {
			return nil, fmt.Errorf("preparing a secret: %w", err)
		}
		cfg.Binds = append(cfg.Binds, stephelper.Bind{Source: src, Target: sec.Target, ReadOnly: true})
	}
	binds, err := mountBinds(spec.Root, spec.Mounts, st)
	if err != nil {
		return nil, err
	}
	cfg.Binds = append(cfg.Binds, binds...)
	return cfg, nil
}

// privateCopy writes data to a new file of the builder's, with mode, to
// be bound into the root for the step; the root itself never holds it.
func privateCopy(dir, pattern string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// runHelper starts this binary again as the namespace's init, hands it the
// configuration on fd 3 and reads setup failures from fd 4.
func runHelper(ctx context.Context, spec *Spec, cfg *stephelper.Config, limits Limits) error {
	var cg *stepCgroup
	if !limits.none() {
		var err error
		if cg, err = newStepCgroup(limits); err != nil {
			return err
		}
		defer cg.remove()
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer specR.Close()
	defer specW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer errR.Close()
	defer errW.Close()

	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{stephelper.Arg0}
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{specR, errW}
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	// The parent-death signal belongs to the thread that forks: keep it
	// alive until the helper is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if cfg.InPlace {
		// No namespace ends the step when the helper is killed: a
		// cancelled step's process group is killed whole.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
	} else {
		flags := syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC
		if cfg.NetNone {
			flags |= syscall.CLONE_NEWNET
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(flags), Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return startError(err)
	}
	specR.Close()
	errW.Close()
	// Into the cgroup before the helper reads its configuration: it
	// starts the command only after that.
	if cg != nil {
		if err := cg.add(cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return err
		}
	}
	if _, err := specW.Write(cfg.Encode()); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("configuring the isolation helper: %w", err)
	}
	specW.Close()
	setupErr, _ := io.ReadAll(errR)
	waitErr := cmd.Wait()
	if len(setupErr) > 0 {
		return errors.New(string(setupErr))
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		return &ExitError{Code: ee.ExitCode()}
	}
	return waitErr
}
