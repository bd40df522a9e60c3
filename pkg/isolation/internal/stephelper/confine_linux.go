package stephelper

import (
	"os"
	"syscall"
	"unsafe"
)

// What a step may not change in /proc and /sys, and what it may not see:
// runc's readonlyPaths and maskedPaths for Docker's default container
// (moby's oci/defaults.go), relative to the root.
var (
	readOnlyPaths = []string{
		"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger",
	}
	maskedPaths = []string{
		"proc/asound", "proc/acpi", "proc/interrupts", "proc/kcore", "proc/keys",
		"proc/latency_stats", "proc/timer_list", "proc/timer_stats", "proc/sched_debug",
		"proc/scsi", "sys/firmware", "sys/devices/virtual/powercap",
	}
)

// confineProc makes readOnlyPaths read-only and hides maskedPaths under
// root: a directory behind an empty read-only tmpfs, a file behind
// /dev/null. Only paths on the proc and sysfs the helper mounted count
// (mounted names them): what is there is the kernel's, and paths it does
// not have are left alone.
func confineProc(root string, mounted []string) error {
	on := func(rel string) bool {
		for _, m := range mounted {
			if len(rel) > len(m) && rel[:len(m)] == m && rel[len(m)] == '/' {
				return true
			}
		}
		return false
	}
	for _, rel := range readOnlyPaths {
		p := join(root, rel)
		if !on(rel) || !isPlain(p) {
			continue
		}
		if err := mount(p, p, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return err
		}
		flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC)
		if err := mount("", p, "", flags, ""); err != nil {
			return err
		}
	}
	for _, rel := range maskedPaths {
		p := join(root, rel)
		var st syscall.Stat_t
		if !on(rel) || syscall.Lstat(p, &st) != nil || st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
			continue
		}
		var err error
		if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			err = mount("tmpfs", p, "tmpfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "size=0")
		} else {
			err = mount("/dev/null", p, "", syscall.MS_BIND, "")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// isPlain tells whether p exists and is not a symlink.
func isPlain(p string) bool {
	var st syscall.Stat_t
	return syscall.Lstat(p, &st) == nil && st.Mode&syscall.S_IFMT != syscall.S_IFLNK
}

const (
	sysCloseRange     = 436 // the same number on every architecture
	closeRangeCloexec = 1 << 2
)

// closeInherited marks every descriptor above 2 close-on-exec, so the
// command inherits none of what the builder's parents left open (a
// directory descriptor would lead out of the root: runc's CVE-2024-21626).
// The helper keeps using its own until it execs.
func closeInherited() error {
	_, _, errno := syscall.RawSyscall(sysCloseRange, 3, ^uintptr(0), closeRangeCloexec)
	if errno == 0 {
		return nil
	}
	// Kernels before 5.11: every descriptor /proc lists.
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return wrap("listing open descriptors", err)
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return wrap("listing open descriptors", err)
	}
	for _, name := range names {
		if fd, ok := atoi(name); ok && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}

const (
	sizeofSockFilter  = 8 // struct sock_filter
	seccompModeFilter = 2
)

// installSeccomp loads a classic BPF program (struct sock_filter, 8 bytes
// each, in this machine's byte order) as the calling thread's seccomp
// filter; every process it starts afterwards inherits it. The helper still
// holds CAP_SYS_ADMIN, so no_new_privs is not needed and setuid programs
// keep working in the step, as in Docker.
func installSeccomp(prog []byte) error {
	if len(prog) == 0 {
		return nil
	}
	if len(prog)%sizeofSockFilter != 0 || len(prog)/sizeofSockFilter > 0xffff {
		return wrap("loading the seccomp filter", syscall.EINVAL)
	}
	fprog := struct {
		len    uint16
		filter unsafe.Pointer
	}{uint16(len(prog) / sizeofSockFilter), unsafe.Pointer(&prog[0])}
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_SECCOMP, seccompModeFilter, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return wrap("loading the seccomp filter", errno)
	}
	return nil
}
