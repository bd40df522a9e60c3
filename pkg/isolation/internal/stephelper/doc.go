// Package stephelper is the first process of a RUN step's namespaces: the
// builder starts its own binary again under the name Arg0, and this
// package's init takes over. Every RUN pays for the package initializers
// Go runs before this one, and Go runs, in import-path order, every one
// that is ready before this package's imports are; so it imports only
// os, syscall, runtime, errors and unsafe (no fmt, strings, strconv,
// encoding/json, os/exec or path/filepath, each of which would let
// dozens of the builder's other packages go first: about 5 ms a step).
package stephelper

// Arg0 is the argv[0] that turns the builder into the helper. Nothing
// else starts a process with that name.
const Arg0 = "builder-isolation-helper"

// PipesDir is where Config.Files appear inside the root.
const PipesDir = "/dev/pipes"

// Config is what the builder hands the helper on fd 3.
type Config struct {
	Root     string
	Args     []string
	Env      []string
	Dir      string
	UID, GID uint32
	Groups   []uint32
	Hostname string
	NetNone  bool
	Mounts   []string // of "proc", "dev", "sys": the ones the root can take
	Binds    []Bind
	Files    map[string][]byte
	// Insecure (RUN --security=insecure, when the builder's user allowed
	// it) keeps every capability, device nodes in the root, and /proc and
	// /sys as the kernel mounts them.
	Insecure bool
	// Seccomp is a classic BPF program (struct sock_filter, 8 bytes each)
	// loaded before the command starts; empty loads none.
	Seccomp []byte
	// InPlace runs the command where the helper is, as isolation none
	// does: no namespaces, root, mounts, capability changes or seccomp.
	// The helper is the step's child subreaper instead, and when the
	// command exits it kills every process the step left behind, as the
	// end of a PID namespace does in chroot isolation and BuildKit.
	InPlace bool
	// SameUser starts the command with the helper's own user and groups,
	// without switching (a builder that is not root cannot set groups).
	SameUser bool
}

// Bind is a file or directory bound into the root, or with Tmpfs an
// empty tmpfs mounted there. Binds are made in order, after /proc, /dev
// and /sys: a later target may lie inside an earlier one. Each is nodev
// unless the step is insecure.
type Bind struct {
	Source, Target string
	ReadOnly       bool
	Tmpfs          bool
	Size           uint64 // a tmpfs's size limit in bytes; 0: the kernel's default
}
