package isolation

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultCaps is the capability set Docker, buildah and BuildKit give a
// build step. Everything else (CAP_SYS_ADMIN, CAP_NET_ADMIN, module
// loading...) would reach the host: the step shares its network and kernel.
var defaultCaps = []int{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FOWNER, unix.CAP_FSETID, unix.CAP_KILL,
	unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE, unix.CAP_NET_RAW,
	unix.CAP_SYS_CHROOT, unix.CAP_MKNOD, unix.CAP_AUDIT_WRITE, unix.CAP_SETFCAP,
}

// dropCapabilities removes every capability outside defaultCaps from the
// calling thread's bounding set, so a process it starts can never hold
// them. The caller must stay on its OS thread until it has started that
// process.
func dropCapabilities() error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	keep := map[int]bool{}
	for _, c := range defaultCaps {
		keep[c] = true
	}
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	return nil
}

func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_LAST_CAP, nil
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
