package stephelper

import (
	"errors"
	"io"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

func init() {
	if len(os.Args) > 0 && os.Args[0] == Arg0 {
		os.Exit(helperMain())
	}
}

// helperMain runs as PID 1 of the step's namespaces: it mounts what the step
// needs, pivots into the root, starts the command and reaps every child
// until the command exits. Setup failures go to fd 4 and exit 125. A
// signal that ends the helper ends the namespace, and the command with it.
// In place (isolation none) there is no namespace: the helper kills what
// the step left once the command exits.
func helperMain() int {
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	errPipe := os.NewFile(4, "errors")
	fail := func(err error) int {
		errPipe.WriteString(err.Error())
		return 125
	}
	data, err := io.ReadAll(os.NewFile(3, "config"))
	if err != nil {
		return fail(wrap("reading the step configuration", err))
	}
	cfg, err := Decode(data)
	if err != nil {
		return fail(err)
	}
	// The bounding set is per thread: drop on the thread that starts the
	// command.
	runtime.LockOSThread()
	if err := prepare(cfg); err != nil {
		return fail(err)
	}
	if err := closeInherited(); err != nil {
		return fail(err)
	}
	pid, err := startCommand(cfg)
	if err != nil {
		return fail(err)
	}
	errPipe.Close()
	status := reap(pid)
	if cfg.InPlace {
		endLeftovers()
	}
	return status
}

// prepare sets the step up: in place, the helper becomes its subreaper
// (see becomeSubreaper); otherwise it mounts the root, pivots into it
// and drops the capabilities a step does not get.
func prepare(cfg *Config) error {
	if cfg.InPlace {
		return becomeSubreaper()
	}
	if err := setupRoot(cfg); err != nil {
		return err
	}
	if !cfg.Insecure {
		return dropCapabilities()
	}
	return nil
}

// wrapped is an error with what was being done, without fmt.
type wrapped struct {
	what string
	err  error
}

func (w *wrapped) Error() string { return w.what + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func wrap(what string, err error) error { return &wrapped{what: what, err: err} }

func join(dir, name string) string {
	for len(name) > 0 && name[0] == '/' {
		name = name[1:]
	}
	if len(dir) > 0 && dir[len(dir)-1] == '/' {
		return dir + name
	}
	return dir + "/" + name
}

func setupRoot(cfg *Config) error {
	root := cfg.Root
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return wrap("making mounts private", err)
	}
	if err := syscall.Mount(root, root, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return wrap("binding the root", err)
	}
	// No device node in the root opens: a step that keeps CAP_MKNOD (as in
	// Docker) can make a block device's node, never read or write it.
	// /dev's own nodes are bound in below.
	if !cfg.Insecure {
		if err := syscall.Mount("", root, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_NODEV, ""); err != nil {
			return wrap("making the root nodev", err)
		}
	}
	for _, m := range cfg.Mounts {
		var err error
		switch m {
		case "proc":
			err = mount("proc", join(root, "proc"), "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
		case "dev":
			err = setupDev(join(root, "dev"), cfg.Files)
		case "sys":
			err = mountSys(join(root, "sys"))
		}
		if err != nil {
			return err
		}
	}
	if !cfg.Insecure {
		if err := confineProc(root, cfg.Mounts); err != nil {
			return err
		}
	}
	for _, b := range cfg.Binds {
		if err := bind(root, b, cfg.Insecure); err != nil {
			return err
		}
	}
	if err := syscall.Sethostname([]byte(cfg.Hostname)); err != nil {
		return wrap("setting the hostname", err)
	}
	if cfg.NetNone {
		if err := loopbackUp(); err != nil {
			return wrap("bringing up lo", err)
		}
	}
	return pivot(root)
}

func mount(src, target, fstype string, flags uintptr, data string) error {
	if err := syscall.Mount(src, target, fstype, flags, data); err != nil {
		return wrap("mounting "+src+" on "+target, err)
	}
	return nil
}

// setupDev makes a small /dev on a tmpfs: the usual character devices bound
// from the host, a private devpts, /dev/shm and the step's files.
func setupDev(dev string, files map[string][]byte) error {
	// nodev: a node made in /dev opens nothing; the bound ones below are
	// mounts of their own and keep working.
	if err := mount("tmpfs", dev, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		target := join(dev, name)
		if err := os.WriteFile(target, nil, 0o666); err != nil {
			return err
		}
		if err := mount("/dev/"+name, target, "", syscall.MS_BIND, ""); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.Mkdir(join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := mount("devpts", join(dev, "pts"), "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := mount("shm", join(dev, "shm"), "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	if err := mount("mqueue", join(dev, "mqueue"), "mqueue", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return err
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, join(dev, name)); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return nil
	}
	pipes := join(dev, PipesDir[len("/dev/"):])
	if err := os.Mkdir(pipes, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(join(pipes, base(name)), data, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// base is the last element of a slash-separated name.
func base(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}

// mountSys mounts a read-only sysfs, or binds the host's read-only where a
// fresh sysfs is not allowed.
func mountSys(target string) error {
	flags := uintptr(syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC)
	if err := syscall.Mount("sysfs", target, "sysfs", flags, ""); err == nil {
		return nil
	}
	if err := mount("/sys", target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return err
	}
	return mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|flags, "")
}

// loopbackUp brings up lo in a new network namespace.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	// struct ifreq: the name, then the flags in the union.
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	for _, req := range []uintptr{syscall.SIOCGIFFLAGS, syscall.SIOCSIFFLAGS} {
		if req == syscall.SIOCSIFFLAGS {
			ifr.flags |= syscall.IFF_UP
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
			return errno
		}
	}
	return nil
}

// pivot makes root the process's "/" and detaches the old root, so nothing
// of the host stays reachable.
func pivot(root string) error {
	if err := syscall.Chdir(root); err != nil {
		return err
	}
	if err := syscall.PivotRoot(".", "."); err != nil {
		return wrap("pivoting into the root", err)
	}
	if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return wrap("detaching the old root", err)
	}
	return syscall.Chdir("/")
}

func startCommand(cfg *Config) (int, error) {
	path := cfg.Args[0]
	if !hasSlash(path) {
		var err error
		if path, err = LookPath(path, cfg.Env); err != nil {
			return 0, err
		}
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, wrap("creating the working directory "+dir, err)
	}
	// Last, on the thread that forks (it is locked): the filter applies
	// to what this thread does from here on, and to the whole step.
	if err := installSeccomp(cfg.Seccomp); err != nil {
		return 0, err
	}
	pid, err := syscall.ForkExec(path, cfg.Args, &syscall.ProcAttr{
		Dir: dir, Env: cfg.Env, Files: []uintptr{0, 1, 2},
		Sys: sysAttr(cfg),
	})
	if err != nil {
		return 0, wrap("starting "+cfg.Args[0], err)
	}
	return pid, nil
}

// sysAttr switches to the step's user and groups, unless it is the
// helper's own.
func sysAttr(cfg *Config) *syscall.SysProcAttr {
	if cfg.SameUser {
		return &syscall.SysProcAttr{}
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: cfg.UID, Gid: cfg.GID, Groups: cfg.Groups}}
}

func hasSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// LookPath finds name in the PATH of env, inside the new root.
func LookPath(name string, env []string) (string, error) {
	pathEnv := ""
	for _, kv := range env {
		if len(kv) >= 5 && kv[:5] == "PATH=" {
			pathEnv = kv[5:]
		}
	}
	start := 0
	for i := 0; i <= len(pathEnv); i++ {
		if i < len(pathEnv) && pathEnv[i] != ':' {
			continue
		}
		dir := pathEnv[start:i]
		start = i + 1
		if dir == "" {
			dir = "."
		}
		p := join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("exec: \"" + name + "\": executable file not found in $PATH")
}

// reap waits for the command, reaping every other process that ends
// meanwhile, and returns its exit status, 128+signal if a signal killed it.
func reap(pid int) int {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 125
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
