// Command probe tries one way out of a RUN step and says whether it got
// through: "ATTACK <name>: blocked (<why>)" or "ATTACK <name>: SUCCEEDED
// (<what>)". It always exits 0, so a build that runs it only fails for
// reasons of its own. The breakout suite (breakout_test.go) builds it
// statically and copies it into the images it attacks from.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	// First, before the runtime opens anything: what the step inherited.
	inherited := openDescriptors()
	if len(os.Args) < 2 {
		fmt.Println("usage: probe ATTACK [ARGS]")
		return
	}
	name, args := os.Args[1], os.Args[2:]
	detail, err := attack(name, args, inherited)
	if err != nil {
		fmt.Printf("ATTACK %s: blocked (%v)\n", name, err)
		return
	}
	fmt.Printf("ATTACK %s: SUCCEEDED (%s)\n", name, detail)
}

func openDescriptors() []int {
	var fds []int
	for fd := 3; fd < 1024; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

func attack(name string, args []string, inherited []int) (string, error) {
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch name {
	case "write": // PATH DATA
		f, err := os.OpenFile(arg(0), os.O_WRONLY, 0)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := f.WriteString(arg(1)); err != nil {
			return "", err
		}
		return "wrote " + arg(0), nil
	case "read": // PATH MARKER
		data, err := os.ReadFile(arg(0))
		if err != nil {
			return "", err
		}
		if !bytes.Contains(data, []byte(arg(1))) {
			return "", fmt.Errorf("%s does not hold the marker", arg(0))
		}
		return "read the marker from " + arg(0), nil
	case "device", "chardev": // PATH MAJOR MINOR: make a block (char) device node and open it
		major, _ := strconv.Atoi(arg(1))
		minor, _ := strconv.Atoi(arg(2))
		kind := uint32(unix.S_IFBLK)
		if name == "chardev" {
			kind = unix.S_IFCHR
		}
		if err := unix.Mknod(arg(0), kind|0o600, int(unix.Mkdev(uint32(major), uint32(minor)))); err != nil && err != unix.EEXIST {
			return "", fmt.Errorf("mknod: %w", err)
		}
		f, err := os.OpenFile(arg(0), os.O_RDWR, 0)
		if err != nil {
			return "", err
		}
		f.Close()
		return "opened device " + arg(1) + ":" + arg(2), nil
	case "fds": // NAME: plant NAME through every inherited descriptor
		if len(inherited) == 0 {
			return "", fmt.Errorf("no descriptor above 2 was inherited")
		}
		var got []string
		for _, fd := range inherited {
			target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
			got = append(got, fmt.Sprintf("%d -> %s", fd, target))
			os.WriteFile("/proc/self/fd/"+strconv.Itoa(fd)+"/"+arg(0), []byte("planted"), 0o644)
		}
		return "inherited " + strings.Join(got, ", "), nil
	case "chroot-escape": // PATH: a host path to reach
		os.Mkdir("/tmp/escape", 0o755)
		if err := unix.Chroot("/tmp/escape"); err != nil {
			return "", err
		}
		for range 64 {
			unix.Chdir("..")
		}
		if err := unix.Chroot("."); err != nil {
			return "", err
		}
		if _, err := os.Stat(arg(0)); err != nil {
			return "", err
		}
		return "reached " + arg(0), nil
	case "caps":
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return "", err
		}
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "CapEff:") {
				if strings.Contains(l, "000001ff") || strings.Contains(l, "0000003f") {
					return l, nil
				}
				return "", fmt.Errorf("%s", l)
			}
		}
		return "", fmt.Errorf("no CapEff")
	}
	return syscallAttack(name)
}

// syscallAttack makes one system call that Docker's profile or
// capabilities refuse a container.
func syscallAttack(name string) (string, error) {
	var err error
	switch name {
	case "clone-user":
		err = cloneInto(unix.CLONE_NEWUSER)
	case "clone-mount":
		err = cloneInto(unix.CLONE_NEWNS)
	case "clone-net":
		err = cloneInto(unix.CLONE_NEWNET)
	case "mount-tmpfs":
		os.Mkdir("/tmp/m", 0o755)
		err = unix.Mount("t", "/tmp/m", "tmpfs", 0, "")
	case "mount-cgroup":
		os.Mkdir("/tmp/cg", 0o755)
		err = unix.Mount("cgroup", "/tmp/cg", "cgroup", 0, "memory")
		if err != nil {
			err = unix.Mount("cgroup2", "/tmp/cg", "cgroup2", 0, "")
		}
	case "remount-sys":
		err = unix.Mount("", "/sys", "", unix.MS_REMOUNT, "")
	case "remount-proc-sys":
		err = unix.Mount("", "/proc/sys", "", unix.MS_REMOUNT|unix.MS_BIND, "")
	case "keyctl":
		_, err = unix.KeyctlJoinSessionKeyring("probe")
	case "add_key":
		_, err = unix.AddKey("user", "probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
	case "ptrace-init":
		err = unix.PtraceAttach(1)
	case "init_module":
		err = unix.InitModule(nil, "")
		if err == unix.EINVAL || err == unix.ENOEXEC || err == unix.EFAULT {
			return "the kernel read the module", nil
		}
	case "bpf":
		_, _, errno := unix.Syscall(unix.SYS_BPF, 0, 0, 0)
		if errno != 0 && errno != unix.EINVAL && errno != unix.EFAULT {
			err = errno
		}
	case "open_by_handle_at":
		// The "shocker" attack: a handle for the host's root inode.
		handle := make([]byte, 8+8)
		*(*uint32)(unsafe.Pointer(&handle[0])) = 8 // handle_bytes
		*(*int32)(unsafe.Pointer(&handle[4])) = 1  // handle_type FILEID_INO32_GEN
		*(*uint32)(unsafe.Pointer(&handle[8])) = 2 // the root inode
		_, _, errno := unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, uintptr(0), uintptr(unsafe.Pointer(&handle[0])), unix.O_RDONLY)
		if errno != 0 && errno != unix.ESTALE && errno != unix.EINVAL && errno != unix.EBADF {
			err = errno
		}
	case "setns-mnt":
		fd, oerr := unix.Open("/proc/1/ns/mnt", unix.O_RDONLY, 0)
		if oerr != nil {
			return "", oerr
		}
		err = unix.Setns(fd, unix.CLONE_NEWNS)
	case "clock_settime":
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_REALTIME, &ts)
		err = unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
	case "perf_event_open":
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK}
		attr.Size = uint32(unsafe.Sizeof(attr))
		var fd int
		if fd, err = unix.PerfEventOpen(&attr, -1, 0, -1, 0); err == nil {
			unix.Close(fd)
		}
	case "swapon":
		_, _, errno := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(&[]byte("/nonexistent\x00")[0])), 0, 0)
		if errno != 0 && errno != unix.ENOENT {
			err = errno
		}
		if errno == unix.ENOENT {
			return "swapon looked the file up", nil
		}
	default:
		return "", fmt.Errorf("unknown attack %q", name)
	}
	if err != nil {
		return "", err
	}
	return name + " worked", nil
}

// cloneInto starts /bin/true in a new namespace of the kind flag names
// (a Go program has threads, so unshare(2) would fail for that alone;
// busybox's unshare tries that way).
func cloneInto(flag uintptr) error {
	pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{Sys: &syscall.SysProcAttr{Cloneflags: flag}})
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	_, err = syscall.Wait4(pid, &ws, 0, nil)
	return err
}
