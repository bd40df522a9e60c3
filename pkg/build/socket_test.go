package build

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRunLeavesSocket: a socket a RUN step leaves behind (gpg-agent's
// under /root/.gnupg) is left out of the layer, as Docker, BuildKit and
// kaniko do; the step's other changes are kept.
func TestRunLeavesSocket(t *testing.T) {
	r := &scriptedRunner{scripts: map[string]func(string) error{
		"gpg": func(root string) error {
			dir := filepath.Join(root, "root/.gnupg")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			// What a listener leaves: a socket inode (bind(2) would
			// need a path shorter than the test's).
			if err := unix.Mknod(filepath.Join(dir, "S.gpg-agent"), unix.S_IFSOCK|0o600, 0); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "pubring.kbx"), []byte("keys"), 0o600)
		},
	}}
	res := mustBuildIn(t, "FROM scratch\nRUN gpg\n", map[string]string{}, func(o *Options) { o.Runner = r })
	fs := flatten(t, res.Image)
	if fs["root/.gnupg/pubring.kbx"].Body != "keys" {
		t.Errorf("the step's file is missing: %v", fs)
	}
	if _, ok := fs["root/.gnupg/S.gpg-agent"]; ok {
		t.Error("the socket is in the layer")
	}
}
