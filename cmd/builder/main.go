// Command builder builds Dockerfiles into images without a daemon and
// pushes them to registries.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(&signalError{sig: s.(syscall.Signal)})
	}()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(ctx, err, root.ErrOrStderr()))
}

// signalError is why a build was cancelled: SIGINT or SIGTERM.
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return "interrupted (" + unix.SignalName(e.sig) + ")" }
