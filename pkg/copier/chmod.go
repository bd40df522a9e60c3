package copier

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	mode "github.com/tonistiigi/dchapes-mode"
)

// Chmod is COPY --chmod: an octal mode every copy gets, or a symbolic one
// (u+x, go-w, a=rX) applied to each source's own mode, as BuildKit does.
type Chmod struct {
	octal *uint32
	set   *mode.Set
}

// ParseChmod parses --chmod's value with BuildKit's rules and messages.
func ParseChmod(s string) (*Chmod, error) {
	numeric := fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
	if p, err := strconv.ParseUint(s, 8, 32); err == nil {
		if p > 0o7777 {
			return nil, numeric
		}
		m := uint32(p)
		return &Chmod{octal: &m}, nil
	}
	set, err := mode.ParseWithUmask(s, 0)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			return nil, numeric // it looks numeric
		}
		return nil, err
	}
	return &Chmod{set: &set}, nil
}

// apply gives the mode (permissions and the setuid, setgid and sticky
// bits) a copy of a file of mode cur gets; isDir matters to X.
func (c *Chmod) apply(cur uint32, isDir bool) uint32 {
	if c.octal != nil {
		return *c.octal
	}
	fm := os.FileMode(cur & 0o777)
	if isDir {
		fm |= os.ModeDir
	}
	for _, b := range specialBits {
		if cur&b.unix != 0 {
			fm |= b.os
		}
	}
	fm = c.set.Apply(fm)
	out := uint32(fm.Perm())
	for _, b := range specialBits {
		if fm&b.os != 0 {
			out |= b.unix
		}
	}
	return out
}

var specialBits = []struct {
	unix uint32
	os   os.FileMode
}{{0o4000, os.ModeSetuid}, {0o2000, os.ModeSetgid}, {0o1000, os.ModeSticky}}
