package stephelper

import (
	"os"
	"syscall"
)

// defaultCaps is the capability set Docker, buildah and BuildKit give a
// build step. Everything else (CAP_SYS_ADMIN, CAP_NET_ADMIN, module
// loading...) would reach the host: the step shares its network and kernel.
// The numbers are linux/capability.h's (the syscall package has no names
// for them).
var defaultCaps = []struct {
	num  int
	name string
}{
	{0, "CAP_CHOWN"},
	{1, "CAP_DAC_OVERRIDE"},
	{3, "CAP_FOWNER"},
	{4, "CAP_FSETID"},
	{5, "CAP_KILL"},
	{6, "CAP_SETGID"},
	{7, "CAP_SETUID"},
	{8, "CAP_SETPCAP"},
	{10, "CAP_NET_BIND_SERVICE"},
	{13, "CAP_NET_RAW"},
	{18, "CAP_SYS_CHROOT"},
	{27, "CAP_MKNOD"},
	{29, "CAP_AUDIT_WRITE"},
	{31, "CAP_SETFCAP"},
}

// DefaultCapabilities names the capabilities a step keeps, as the
// seccomp profile's rules name them.
func DefaultCapabilities() []string {
	names := make([]string, len(defaultCaps))
	for i, c := range defaultCaps {
		names[i] = c.name
	}
	return names
}

// capLastCap is the highest capability number this code knows of
// (CAP_CHECKPOINT_RESTORE), used when the kernel does not say.
const capLastCap = 40

// dropCapabilities removes every capability outside defaultCaps from the
// calling thread's bounding set, so a process it starts can never hold
// them. The caller must stay on its OS thread until it has started that
// process.
func dropCapabilities() error {
	keep := map[int]bool{}
	for _, c := range defaultCaps {
		keep[c.num] = true
	}
	// Read once: each read of the sysctl is five system calls, and
	// asking it per capability cost 41 of them every step.
	last := lastCap()
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_CAPBSET_DROP, uintptr(c), 0)
		if errno != 0 && errno != syscall.EINVAL {
			return wrap("dropping a capability", errno)
		}
	}
	return nil
}

// lastCap is the kernel's highest capability number.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return capLastCap
	}
	n, digits := 0, 0
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if digits == 0 {
		return capLastCap
	}
	return n
}
