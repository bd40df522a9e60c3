// Package seccomp compiles Docker's default seccomp profile (from
// github.com/moby/profiles/seccomp) into a classic BPF program in pure Go,
// so the builder stays one static binary (runc and libseccomp need cgo).
// The program is what the isolation helper loads before a RUN step starts.
package seccomp

//go:generate go run ./gen
