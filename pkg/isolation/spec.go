// Package isolation runs a RUN step's command inside a stage's root
// filesystem. Chroot runs it in new mount, PID, UTS and IPC namespaces with
// the root pivoted to the stage's directory; the process tree dies with the
// step, and nothing it mounts outlives it.
package isolation

import (
	"fmt"
	"io"

	"github.com/buildcrew/builder/pkg/isolation/internal/stephelper"
)

// Spec describes one command to run.
type Spec struct {
	Root     string   // the root filesystem, a host directory
	Args     []string // argv; a bare Args[0] is looked up in Env's PATH inside Root
	Env      []string // "KEY=VALUE"
	Dir      string   // the working directory inside Root
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Stdout   io.Writer
	Stderr   io.Writer
	Network  string // "", "default" or "host" share the host's network; "none" isolates it
	Hostname string // defaults to "buildkitsandbox", as BuildKit's
	// Insecure (RUN --security=insecure) keeps every capability, loads no
	// seccomp filter and leaves /proc, /sys and device nodes as a
	// privileged container has them; otherwise the step meets Docker's
	// default boundary. The caller decides whether it is allowed.
	Insecure bool
	// Files are made in a tmpfs at /dev/pipes for the step only, e.g. a
	// here-document script; the key is the file name, mode 0755.
	Files map[string][]byte
	// Secrets are files that exist at their targets for the step only,
	// read-only, and never in the root afterwards.
	Secrets []Secret
	// Mounts are directories (or files) mounted for the step only: RUN
	// --mount type=cache, bind and tmpfs. They are made after the
	// secrets, in order of their targets, parents first. A mount point
	// the root lacked is gone afterwards.
	Mounts []Mount
}

// Mount is a host directory or file bound at Target, or an empty tmpfs
// there when Source is "".
type Mount struct {
	Target   string // absolute, inside the root; symlinks resolve inside it
	Source   string
	ReadOnly bool
	Size     int64 // a tmpfs's size limit in bytes; 0: the kernel's default
}

// Secret is a file given to one step (RUN --mount=type=secret).
type Secret struct {
	Target   string // absolute, inside the root
	Data     []byte
	Mode     uint32
	UID, GID uint32
}

// ExitError is a command that ran and exited with a non-zero status (or was
// killed by a signal, reported as 128+signal, as shells do).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode returns the command's exit status.
func (e *ExitError) ExitCode() int { return e.Code }

// PipesDir is where Spec.Files appear inside the root.
const PipesDir = stephelper.PipesDir

const defaultHostname = "buildkitsandbox"
