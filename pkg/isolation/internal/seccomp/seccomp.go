package seccomp

import (
	"fmt"
	"runtime"

	profiles "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// Default compiles Docker's default profile for a process whose bounding
// set holds caps (names such as "CAP_CHOWN"), on this machine's
// architecture and kernel: the profile's rules that depend on
// capabilities, architecture and kernel version are settled as Docker
// settles them. The result is ready for the isolation helper to load.
func Default(caps []string) ([]byte, error) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	p, err := profiles.GetDefaultProfile(spec)
	if err != nil {
		return nil, fmt.Errorf("resolving the default seccomp profile: %w", err)
	}
	return build(p, runtime.GOARCH)
}

func build(p *specs.LinuxSeccomp, goarch string) ([]byte, error) {
	prog, err := compile(p, goarch)
	if err != nil {
		return nil, fmt.Errorf("compiling the seccomp profile: %w", err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assembling the seccomp profile: %w", err)
	}
	return Encode(raw), nil
}
