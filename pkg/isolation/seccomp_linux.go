package isolation

import (
	"sync"

	"github.com/buildcrew/builder/pkg/isolation/internal/seccomp"
	"github.com/buildcrew/builder/pkg/isolation/internal/stephelper"
)

// seccompOnce compiles Docker's default seccomp profile once per runner,
// for the capabilities a step keeps.
type seccompOnce struct {
	once sync.Once
	prog []byte
	err  error
}

// filter is the program every RUN loads (but --security=insecure ones).
func (c *Chroot) filter() ([]byte, error) {
	c.seccomp.once.Do(func() {
		c.seccomp.prog, c.seccomp.err = seccomp.Default(stephelper.DefaultCapabilities())
	})
	return c.seccomp.prog, c.seccomp.err
}
