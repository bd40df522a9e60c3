package isolation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// helperArg0 is the argv[0] that turns this binary into the isolation
// helper. Nothing else starts a process with that name.
const helperArg0 = "builder-isolation-helper"

func init() {
	if len(os.Args) > 0 && os.Args[0] == helperArg0 {
		os.Exit(helperMain())
	}
}

// helperConfig is what the builder hands the helper on fd 3.
type helperConfig struct {
	Root     string
	Args     []string
	Env      []string
	Dir      string
	UID, GID uint32
	Groups   []uint32
	Hostname string
	NetNone  bool
	Mounts   []string // of "proc", "dev", "sys": the ones the root can take
	Binds    []bind
	Files    map[string][]byte
	AllCaps  bool // RUN --security=insecure keeps every capability
}

type bind struct {
	Source, Target string
	ReadOnly       bool
}

// helperMain runs as PID 1 of the step's namespaces: it mounts what the step
// needs, pivots into the root, starts the command and reaps every child
// until the command exits. Setup failures go to fd 4 and exit 125.
func helperMain() int {
	unix.CloseOnExec(3)
	unix.CloseOnExec(4)
	errPipe := os.NewFile(4, "errors")
	fail := func(err error) int {
		fmt.Fprint(errPipe, err.Error())
		return 125
	}
	var cfg helperConfig
	if err := json.NewDecoder(os.NewFile(3, "config")).Decode(&cfg); err != nil {
		return fail(fmt.Errorf("reading the step configuration: %w", err))
	}
	if err := setupRoot(&cfg); err != nil {
		return fail(err)
	}
	// The bounding set is per thread: drop on the thread that starts the
	// command.
	runtime.LockOSThread()
	if !cfg.AllCaps {
		if err := dropCapabilities(); err != nil {
			return fail(err)
		}
	}
	cmd, err := startCommand(&cfg)
	if err != nil {
		return fail(err)
	}
	errPipe.Close()
	return reap(cmd.Process)
}

func setupRoot(cfg *helperConfig) error {
	root := cfg.Root
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding the root: %w", err)
	}
	for _, m := range cfg.Mounts {
		var err error
		switch m {
		case "proc":
			err = mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		case "dev":
			err = setupDev(filepath.Join(root, "dev"), cfg.Files)
		case "sys":
			err = mountSys(filepath.Join(root, "sys"))
		}
		if err != nil {
			return err
		}
	}
	for _, b := range cfg.Binds {
		target := filepath.Join(root, b.Target)
		if err := mount(b.Source, target, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		if b.ReadOnly {
			if err := mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return err
			}
		}
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("setting the hostname: %w", err)
	}
	if cfg.NetNone {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	return pivot(root)
}

func mount(src, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(src, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", src, target, err)
	}
	return nil
}

// setupDev makes a small /dev on a tmpfs: the usual character devices bound
// from the host, a private devpts, /dev/shm and the step's files.
func setupDev(dev string, files map[string][]byte) error {
	if err := mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		target := filepath.Join(dev, name)
		if err := os.WriteFile(target, nil, 0o666); err != nil {
			return err
		}
		if err := mount("/dev/"+name, target, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := mount("shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return nil
	}
	pipes := filepath.Join(dev, strings.TrimPrefix(PipesDir, "/dev/"))
	if err := os.Mkdir(pipes, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(pipes, filepath.Base(name)), data, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// mountSys mounts a read-only sysfs, or binds the host's read-only where a
// fresh sysfs is not allowed.
func mountSys(target string) error {
	flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("sysfs", target, "sysfs", flags, ""); err == nil {
		return nil
	}
	if err := mount("/sys", target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
}

// loopbackUp brings up lo in a new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	return nil
}

// pivot makes root the process's "/" and detaches the old root, so nothing
// of the host stays reachable.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivoting into the root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return unix.Chdir("/")
}

func startCommand(cfg *helperConfig) (*exec.Cmd, error) {
	path := cfg.Args[0]
	if !strings.Contains(path, "/") {
		var err error
		if path, err = lookPath(path, cfg.Env); err != nil {
			return nil, err
		}
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the working directory %s: %w", dir, err)
	}
	cmd := &exec.Cmd{Path: path, Args: cfg.Args, Env: cfg.Env, Dir: dir, Stdout: os.Stdout, Stderr: os.Stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: cfg.UID, Gid: cfg.GID, Groups: cfg.Groups},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Args[0], err)
	}
	return cmd, nil
}

// lookPath finds name in the PATH of env, inside the new root.
func lookPath(name string, env []string) (string, error) {
	pathEnv := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// reap waits for the command, forwarding termination signals to it and
// reaping every other process that ends meanwhile, and returns its exit
// status, 128+signal if a signal killed it.
func reap(p *os.Process) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT)
	go func() {
		for s := range sigs {
			p.Signal(s)
		}
	}()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 125
		}
		if pid != p.Pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
