package seccomp

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// What a filter returns (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retErrno       = 0x00050000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	errnoEPERM     = 1
)

// arch is one architecture a filter accepts system calls from.
type arch struct {
	name  string // the key of syscallNumbers
	audit uint32 // AUDIT_ARCH_*, as seccomp_data.arch gives it
	bits  int    // 64 compares whole arguments, 32 their low halves
	// limit, when set, is where this architecture's numbers end: x86_64
	// numbers from 0x40000000 up are x32's, which get the default action.
	limit uint32
}

// archesFor lists the architectures a process of goarch can call the
// kernel as: its own first, then the 32-bit one the kernel also runs.
func archesFor(goarch string) ([]arch, error) {
	switch goarch {
	case "amd64":
		return []arch{{"x86_64", 0xc000003e, 64, 0x40000000}, {"x86", 0x40000003, 32, 0}}, nil
	case "arm64":
		return []arch{{"aarch64", 0xc00000b7, 64, 0}, {"arm", 0x40000028, 32, 0}}, nil
	}
	return nil, fmt.Errorf("no system call table for %s", goarch)
}

// rule is one way a system call is let through or turned away: every
// argument condition must hold.
type rule struct {
	action uint32
	args   []specs.LinuxSeccompArg
}

// compile turns a resolved profile into a program for goarch's kernel.
// The program reads seccomp_data (nr at 0, arch at 4, args from 16, each
// 8 bytes, low half first: little-endian machines only, as are both
// architectures archesFor knows).
func compile(p *specs.LinuxSeccomp, goarch string) ([]bpf.Instruction, error) {
	arches, err := archesFor(goarch)
	if err != nil {
		return nil, err
	}
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	a := &asm{}
	a.emit(bpf.LoadAbsolute{Off: 4, Size: 4})
	for _, ar := range arches {
		a.jumpIf(bpf.JumpEqual, ar.audit, "arch-"+ar.name)
	}
	// A call from an architecture nobody expects: kill, as libseccomp's
	// default bad-architecture action does.
	a.emit(bpf.RetConstant{Val: retKillProcess})
	for _, ar := range arches {
		rules, err := rulesFor(p, ar.name)
		if err != nil {
			return nil, err
		}
		a.label("arch-" + ar.name)
		a.emit(bpf.LoadAbsolute{Off: 0, Size: 4})
		if ar.limit != 0 {
			a.jumpIf(bpf.JumpGreaterOrEqual, ar.limit, "default")
		}
		nrs := make([]uint32, 0, len(rules))
		for nr := range rules {
			nrs = append(nrs, nr)
		}
		sort.Slice(nrs, func(i, j int) bool { return nrs[i] < nrs[j] })
		a.search(ar.name, nrs)
		for _, nr := range nrs {
			a.label(fmt.Sprintf("%s-%d", ar.name, nr))
			for i, r := range rules[nr] {
				next := fmt.Sprintf("%s-%d-%d", ar.name, nr, i)
				for _, c := range r.args {
					if err := a.condition(c, ar.bits, next); err != nil {
						return nil, err
					}
				}
				a.emit(bpf.RetConstant{Val: r.action})
				a.label(next)
			}
			a.emit(bpf.RetConstant{Val: def})
		}
	}
	a.label("default")
	a.emit(bpf.RetConstant{Val: def})
	return a.assemble()
}

// rulesFor gathers, by number, the rules of every system call the
// profile names that archName has, in the profile's order.
func rulesFor(p *specs.LinuxSeccomp, archName string) (map[uint32][]rule, error) {
	table := syscallNumbers[archName]
	out := map[uint32][]rule{}
	for _, sc := range p.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, err
		}
		for _, name := range sc.Names {
			nr, ok := table[name]
			if !ok {
				continue // not a call of this architecture
			}
			out[nr] = append(out[nr], rule{action: act, args: sc.Args})
		}
	}
	// A rule without conditions ends the list: later ones never apply.
	for nr, rs := range out {
		for i, r := range rs {
			if len(r.args) == 0 {
				out[nr] = rs[:i+1]
				break
			}
		}
	}
	return out, nil
}

func action(a specs.LinuxSeccompAction, errno *uint) (uint32, error) {
	switch a {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		e := uint32(errnoEPERM)
		if errno != nil {
			e = uint32(*errno)
		}
		return retErrno | e&0xffff, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActLog:
		return retLog, nil
	}
	return 0, fmt.Errorf("seccomp action %s is not supported", a)
}

// Encode lays a program out as the kernel takes it: struct sock_filter
// {u16 code; u8 jt; u8 jf; u32 k}, in this machine's byte order.
func Encode(prog []bpf.RawInstruction) []byte {
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = binary.NativeEndian.AppendUint16(out, in.Op)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out
}
