package seccomp

import (
	"encoding/binary"
	"testing"

	profiles "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// dockerCaps is Docker's default capability set, as the helper keeps it.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
	"CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
}

// call is one system call as seccomp_data describes it.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// data lays c out for x/net/bpf's VM, whose loads read big-endian words
// (network order) where the kernel's read native ones: each 32-bit word
// is written big-endian at the offset a little-endian kernel has it, so
// the program sees the same values in both.
func (c call) data() []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], c.nr)
	binary.BigEndian.PutUint32(b[4:], c.arch)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[20+8*i:], uint32(a>>32))
	}
	return b
}

const (
	x8664 = 0xc000003e
	i386  = 0x40000003
)

func x86(name string, args ...uint64) call {
	c := call{arch: x8664, nr: syscallNumbers["x86_64"][name]}
	copy(c.args[:], args)
	return c
}

// amd64Filter compiles Docker's default profile for dockerCaps as amd64's
// (whatever machine the test runs on) into x/net/bpf's VM.
func amd64Filter(t *testing.T) (*specs.LinuxSeccomp, *bpf.VM) {
	t.Helper()
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: dockerCaps}}}
	p, err := profiles.GetDefaultProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := compile(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	return p, vm
}

func TestDefaultProfileDecides(t *testing.T) {
	_, vm := amd64Filter(t)
	const (
		allow  = retAllow
		eperm  = retErrno | 1
		enosys = retErrno | 38
		kill   = retKillProcess
	)
	const cloneNewUser, cloneNewNS, sigchld = 0x10000000, 0x00020000, 17
	for _, tc := range []struct {
		name string
		c    call
		want uint32
	}{
		{"read", x86("read"), allow},
		{"execve", x86("execve"), allow},
		{"clone of a thread", x86("clone", 0x3d0f00), allow},
		{"fork", x86("clone", sigchld), allow},
		{"clone into a new user namespace", x86("clone", cloneNewUser|sigchld), eperm},
		{"clone into a new mount namespace", x86("clone", cloneNewNS|sigchld), eperm},
		{"clone3 (libc falls back to clone)", x86("clone3"), enosys},
		{"unshare", x86("unshare", cloneNewUser), eperm},
		{"setns", x86("setns"), eperm},
		{"mount", x86("mount"), eperm},
		{"umount2", x86("umount2"), eperm},
		{"pivot_root", x86("pivot_root"), eperm},
		{"keyctl", x86("keyctl"), eperm},
		{"add_key", x86("add_key"), eperm},
		{"init_module", x86("init_module"), eperm},
		{"finit_module", x86("finit_module"), eperm},
		{"kexec_load", x86("kexec_load"), eperm},
		{"bpf", x86("bpf"), eperm},
		{"perf_event_open", x86("perf_event_open"), eperm},
		{"open_by_handle_at", x86("open_by_handle_at"), eperm},
		{"reboot", x86("reboot"), eperm},
		{"swapon", x86("swapon"), eperm},
		{"ptrace (inside the step's PID namespace)", x86("ptrace"), allow},
		{"chroot (CAP_SYS_CHROOT)", x86("chroot"), allow},
		{"personality(PER_LINUX)", x86("personality", 0), allow},
		{"personality query", x86("personality", 0xffffffff), allow},
		{"personality with a high half", x86("personality", 0x1_ffffffff), eperm},
		{"personality(READ_IMPLIES_EXEC)", x86("personality", 0x0400000), eperm},
		{"socket AF_INET", x86("socket", 2, 1), allow},
		{"socket AF_UNIX", x86("socket", 1, 1), allow},
		{"socket AF_NETLINK", x86("socket", 16, 3), allow},
		{"socket AF_VSOCK", x86("socket", 40, 1), eperm},
		{"an x32 call", call{arch: x8664, nr: 0x40000000}, eperm},
		{"a number no table has", call{arch: x8664, nr: 4000}, eperm},
		{"i386 read", call{arch: i386, nr: syscallNumbers["x86"]["read"]}, allow},
		{"i386 unshare", call{arch: i386, nr: syscallNumbers["x86"]["unshare"]}, eperm},
		{"i386 personality query", call{arch: i386, nr: syscallNumbers["x86"]["personality"], args: [6]uint64{0xffffffff}}, allow},
		{"an architecture the filter does not know", call{arch: 0xc00000b7, nr: 63}, kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := vm.Run(tc.c.data())
			if err != nil {
				t.Fatal(err)
			}
			if uint32(got) != tc.want {
				t.Errorf("returned %#x, want %#x", uint32(got), tc.want)
			}
		})
	}
}

func TestEveryAllowedCallIsReachable(t *testing.T) {
	p, vm := amd64Filter(t)
	// Every system call the profile allows without conditions must come
	// out allowed: the halving search may skip none.
	n := 0
	for _, sc := range p.Syscalls {
		if sc.Action != specs.ActAllow || len(sc.Args) > 0 {
			continue
		}
		for _, name := range sc.Names {
			nr, ok := syscallNumbers["x86_64"][name]
			if !ok {
				continue
			}
			n++
			got, err := vm.Run(call{arch: x8664, nr: nr}.data())
			if err != nil || uint32(got) != retAllow {
				t.Errorf("%s (%d): returned %#x, %v", name, nr, uint32(got), err)
			}
		}
	}
	if n < 300 {
		t.Errorf("only %d allowed system calls checked", n)
	}
}

func TestDefaultCompilesHere(t *testing.T) {
	prog, err := Default(dockerCaps)
	if err != nil {
		t.Skipf("no table for this machine: %v", err)
	}
	if len(prog)%8 != 0 || len(prog) < 8*100 {
		t.Errorf("program of %d bytes", len(prog))
	}
}

// TestArm64 compiles arm64's profile (with arm's calls) and checks a few
// decisions, whatever machine the test runs on.
func TestArm64(t *testing.T) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: dockerCaps}}}
	p, err := profiles.GetDefaultProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := compile(p, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	const aarch64, arm = 0xc00000b7, 0x40000028
	for _, tc := range []struct {
		name string
		c    call
		want uint32
	}{
		{"read", call{arch: aarch64, nr: syscallNumbers["aarch64"]["read"]}, retAllow},
		{"unshare", call{arch: aarch64, nr: syscallNumbers["aarch64"]["unshare"]}, retErrno | 1},
		{"keyctl", call{arch: aarch64, nr: syscallNumbers["aarch64"]["keyctl"]}, retErrno | 1},
		{"arm read", call{arch: arm, nr: syscallNumbers["arm"]["read"]}, retAllow},
		{"x86_64 read", call{arch: x8664, nr: 0}, retKillProcess},
	} {
		got, err := vm.Run(tc.c.data())
		if err != nil || uint32(got) != tc.want {
			t.Errorf("%s: %#x, %v; want %#x", tc.name, uint32(got), err, tc.want)
		}
	}
}
