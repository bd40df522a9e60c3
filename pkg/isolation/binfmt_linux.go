package isolation

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// BinfmtDir is where the kernel lists its binfmt_misc handlers.
const BinfmtDir = "/proc/sys/fs/binfmt_misc"

// ErrNoEmulator is a RUN step for a CPU this machine cannot run, with no
// emulator registered for it.
var ErrNoEmulator = errors.New("no emulator is registered for it")

// ErrHandlersHidden is binfmt_misc not mounted where the builder runs (a
// container that does not show it): the kernel may still have handlers
// registered by the host, which apply.
var ErrHandlersHidden = errors.New("the kernel's binfmt_misc handlers cannot be seen here")

// elfMachine is how a Linux program for a GOARCH begins: its ELF class,
// byte order and e_machine.
type elfMachine struct {
	bits64    bool
	bigEndian bool
	machine   uint16
}

var elfMachines = map[string]elfMachine{
	"amd64":    {true, false, 62},
	"386":      {false, false, 3},
	"arm64":    {true, false, 183},
	"arm":      {false, false, 40},
	"ppc64le":  {true, false, 21},
	"ppc64":    {true, true, 21},
	"s390x":    {true, true, 22},
	"riscv64":  {true, false, 243},
	"mips64le": {true, false, 8},
	"mips64":   {true, true, 8},
	"mipsle":   {false, false, 8},
	"mips":     {false, true, 8},
	"loong64":  {true, false, 258},
}

// header is the first 20 bytes of an executable for m.
func (m elfMachine) header() []byte {
	h := make([]byte, 20)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 1, 1, 1 // 32-bit, little-endian, ELF version 1
	if m.bits64 {
		h[4] = 2
	}
	var order binary.ByteOrder = binary.LittleEndian
	if m.bigEndian {
		h[5] = 2
		order = binary.BigEndian
	}
	order.PutUint16(h[16:], 2) // ET_EXEC
	order.PutUint16(h[18:], m.machine)
	return h
}

// Emulation says how this machine runs a RUN step's programs for
// linux/arch: natively ("" and nil), through the binfmt_misc handler it
// names (QEMU user emulation, say), or not at all (an error naming the
// platform and what to install). It never guesses: without a handler that
// matches, a foreign program is not run.
func Emulation(arch, variant string) (string, error) {
	return emulation(BinfmtDir, runtime.GOARCH, arch, variant)
}

func emulation(dir, host, arch, variant string) (string, error) {
	if nativeArch(host, arch) {
		return "", nil
	}
	platform := "linux/" + arch
	if variant != "" {
		platform += "/" + variant
	}
	m, ok := elfMachines[arch]
	if !ok {
		return "", fmt.Errorf("RUN for %s: this builder does not know how programs for %s begin, so it cannot tell whether an emulator runs them", platform, arch)
	}
	install := fmt.Errorf("RUN for %s on this %s machine: %w; install QEMU user emulation with its binfmt_misc handlers (Debian: apt-get install qemu-user-static; a cluster node: run tonistiigi/binfmt --install %s once, privileged), or cross-compile in a stage FROM --platform=$BUILDPLATFORM", platform, host, ErrNoEmulator, arch)
	if _, err := os.Stat(filepath.Join(dir, "status")); err != nil {
		return "", fmt.Errorf("RUN for %s: %w (%s is not mounted; mount it with mount -t binfmt_misc binfmt_misc %s)", platform, ErrHandlersHidden, dir, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("%w (%s cannot be read: %v)", install, dir, err)
	}
	hdr := m.header()
	for _, e := range entries {
		if e.Name() == "register" || e.Name() == "status" {
			continue
		}
		h, err := readHandler(filepath.Join(dir, e.Name()))
		if err != nil || !h.enabled || !h.matches(hdr) {
			continue
		}
		if !strings.Contains(h.flags, "F") {
			return "", fmt.Errorf("RUN for %s: the binfmt_misc handler %s is registered without the F (fix binary) flag, so the kernel would look for its interpreter %s inside the build's root, where it is not; register it with F (Debian's qemu-user-static and tonistiigi/binfmt do)", platform, e.Name(), h.interpreter)
		}
		return e.Name(), nil
	}
	return "", install
}

// nativeArch tells the architectures a host runs without help.
func nativeArch(host, arch string) bool {
	return host == arch || host == "amd64" && arch == "386"
}

// handler is one binfmt_misc entry.
type handler struct {
	enabled     bool
	interpreter string
	flags       string
	offset      int
	magic, mask []byte
}

func readHandler(p string) (*handler, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	h := &handler{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "enabled":
			h.enabled = true
		case "interpreter":
			h.interpreter = v
		case "flags:":
			h.flags = v
		case "offset":
			if h.offset, err = strconv.Atoi(v); err != nil {
				return nil, err
			}
		case "magic":
			if h.magic, err = hex.DecodeString(v); err != nil {
				return nil, err
			}
		case "mask":
			if h.mask, err = hex.DecodeString(v); err != nil {
				return nil, err
			}
		}
	}
	if h.magic == nil {
		return nil, errors.New("not a magic handler")
	}
	return h, nil
}

// matches tells whether the kernel would hand a file that begins with hdr
// to this handler.
func (h *handler) matches(hdr []byte) bool {
	if h.offset < 0 || h.offset+len(h.magic) > len(hdr) {
		return false
	}
	got := bytes.Clone(hdr[h.offset : h.offset+len(h.magic)])
	want := bytes.Clone(h.magic)
	for i := range want {
		if i < len(h.mask) {
			got[i] &= h.mask[i]
			want[i] &= h.mask[i]
		}
	}
	return bytes.Equal(got, want)
}
