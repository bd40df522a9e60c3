package seccomp

import (
	"fmt"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// asm assembles a program with named labels. A conditional jump's
// targets are 8 bits wide, so "if cond goto label" is always two
// instructions: a conditional jump over the next one, and an
// unconditional jump (32 bits wide) to the label.
type asm struct {
	prog   []bpf.Instruction
	labels map[string]int
	fixups map[int]string // index of a Jump -> its label
}

func (a *asm) emit(in bpf.Instruction) { a.prog = append(a.prog, in) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.prog)
}

// jumpIf goes to label when the accumulator compares true with val.
func (a *asm) jumpIf(cond bpf.JumpTest, val uint32, label string) {
	a.emit(bpf.JumpIf{Cond: cond, Val: val, SkipTrue: 0, SkipFalse: 1})
	a.jump(label)
}

// jumpUnless goes to label when the accumulator compares false with val.
func (a *asm) jumpUnless(cond bpf.JumpTest, val uint32, label string) {
	a.emit(bpf.JumpIf{Cond: cond, Val: val, SkipTrue: 1, SkipFalse: 0})
	a.jump(label)
}

func (a *asm) jump(label string) {
	if a.fixups == nil {
		a.fixups = map[int]string{}
	}
	a.fixups[len(a.prog)] = label
	a.emit(bpf.Jump{})
}

// search finds the accumulator's system call number among nrs (sorted)
// by halving, and goes to "<archName>-<nr>"; a number not there goes to
// "default".
func (a *asm) search(archName string, nrs []uint32) {
	if len(nrs) <= 4 {
		for _, nr := range nrs {
			a.jumpIf(bpf.JumpEqual, nr, fmt.Sprintf("%s-%d", archName, nr))
		}
		a.jump("default")
		return
	}
	mid := len(nrs) / 2
	upper := fmt.Sprintf("%s-from-%d", archName, nrs[mid])
	a.jumpIf(bpf.JumpGreaterOrEqual, nrs[mid], upper)
	a.search(archName, nrs[:mid])
	a.label(upper)
	a.search(archName, nrs[mid:])
}

// condition goes to fail unless argument c.Index compares as c says. On
// a 64-bit architecture both halves count, as libseccomp compares them;
// on a 32-bit one only the low half exists.
func (a *asm) condition(c specs.LinuxSeccompArg, bits int, fail string) error {
	if c.Index > 5 {
		return fmt.Errorf("seccomp argument %d does not exist", c.Index)
	}
	lo := uint32(16 + 8*c.Index)
	hi := lo + 4
	v, v2 := c.Value, c.ValueTwo
	load := func(off uint32) { a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }
	if bits == 32 {
		v, v2 = v&0xffffffff, v2&0xffffffff
	}
	switch c.Op {
	case specs.OpEqualTo, specs.OpNotEqual:
		ok := fmt.Sprintf("%s-ne-%d", fail, len(a.prog))
		target := fail // EQ: a differing half fails
		if c.Op == specs.OpNotEqual {
			target = ok // NE: a differing half succeeds
		}
		if bits == 64 {
			load(hi)
			a.jumpUnless(bpf.JumpEqual, uint32(v>>32), target)
		}
		load(lo)
		a.jumpUnless(bpf.JumpEqual, uint32(v), target)
		if c.Op == specs.OpNotEqual {
			a.jump(fail) // both halves equal
			a.label(ok)
		}
	case specs.OpMaskedEqual:
		// Value is the mask, ValueTwo what the masked argument must be.
		if bits == 64 {
			load(hi)
			a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: uint32(v >> 32)})
			a.jumpUnless(bpf.JumpEqual, uint32(v2>>32), fail)
		}
		load(lo)
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: uint32(v)})
		a.jumpUnless(bpf.JumpEqual, uint32(v2), fail)
	case specs.OpLessThan, specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual:
		a.order(c.Op, v, bits, lo, hi, fail)
	default:
		return fmt.Errorf("seccomp operator %s is not supported", c.Op)
	}
	return nil
}

// order compares an argument with v as unsigned 64-bit numbers: the high
// halves decide unless they are equal, then the low halves do.
func (a *asm) order(op specs.LinuxSeccompOperator, v uint64, bits int, lo, hi uint32, fail string) {
	// low is the comparison the low halves must pass; for the high
	// halves a strict ">" or "<" decides at once either way.
	var low bpf.JumpTest
	greater := op == specs.OpGreaterThan || op == specs.OpGreaterEqual
	switch op {
	case specs.OpLessThan:
		low = bpf.JumpLessThan
	case specs.OpLessEqual:
		low = bpf.JumpLessOrEqual
	case specs.OpGreaterThan:
		low = bpf.JumpGreaterThan
	default:
		low = bpf.JumpGreaterOrEqual
	}
	pass := fmt.Sprintf("%s-ord-%d", fail, len(a.prog))
	if bits == 64 {
		a.emit(bpf.LoadAbsolute{Off: hi, Size: 4})
		if greater {
			a.jumpIf(bpf.JumpGreaterThan, uint32(v>>32), pass)
			a.jumpIf(bpf.JumpLessThan, uint32(v>>32), fail)
		} else {
			a.jumpIf(bpf.JumpLessThan, uint32(v>>32), pass)
			a.jumpIf(bpf.JumpGreaterThan, uint32(v>>32), fail)
		}
	}
	a.emit(bpf.LoadAbsolute{Off: lo, Size: 4})
	a.jumpUnless(low, uint32(v), fail)
	a.label(pass)
}

// assemble resolves the labels.
func (a *asm) assemble() ([]bpf.Instruction, error) {
	if len(a.prog) > 4096 {
		return nil, fmt.Errorf("the seccomp program has %d instructions, more than the kernel takes (4096)", len(a.prog))
	}
	out := append([]bpf.Instruction(nil), a.prog...)
	for at, name := range a.fixups {
		to, ok := a.labels[name]
		if !ok {
			return nil, fmt.Errorf("seccomp program: no label %s", name)
		}
		if to <= at {
			return nil, fmt.Errorf("seccomp program: label %s jumps backwards", name)
		}
		out[at] = bpf.Jump{Skip: uint32(to - at - 1)}
	}
	return out, nil
}
