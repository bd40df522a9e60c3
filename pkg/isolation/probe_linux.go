package isolation

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrNoNamespaces is chroot isolation failing for want of the privilege to
// create a step's namespaces.
var ErrNoNamespaces = errors.New("chroot isolation cannot create the step's namespaces: it needs root with CAP_SYS_ADMIN (in a container that does not grant it, build with isolation none)")

// CanNamespace tells whether chroot isolation can create a step's
// namespaces here, by trying on a thread of its own that is thrown away
// afterwards: nil when it can, else why not (ErrNoNamespaces).
func CanNamespace() error {
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, in its new namespaces, ends with the
		// goroutine.
		runtime.LockOSThread()
		done <- unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_FS)
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("%w: %w", ErrNoNamespaces, err)
	}
	return nil
}

// startError says why the isolation helper did not start.
func startError(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("starting the isolation helper: %w: %w", ErrNoNamespaces, err)
	}
	return fmt.Errorf("starting the isolation helper: %w", err)
}
