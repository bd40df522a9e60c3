package integration

import (
	"sync"
	"testing"

	"github.com/buildcrew/builder/internal/testenv"
)

var debian struct {
	once sync.Once
	ref  string
	err  string
}

// debianBase pushes a Debian bookworm minbase, made by debootstrap and
// umoci, to the test registry once, and returns its reference.
func debianBase(t *testing.T) string {
	t.Helper()
	debian.once.Do(func() {
		layout, err := testenv.DebianLayout()
		if err != nil {
			debian.err = err.Error()
			return
		}
		ref := env.registry + "/library/debian:bookworm"
		if err := testenv.PushLayout(layout, ref); err != nil {
			debian.err = "pushing the Debian base: " + err.Error()
			return
		}
		debian.ref = ref
	})
	if debian.err != "" {
		t.Fatal(debian.err)
	}
	return debian.ref
}
