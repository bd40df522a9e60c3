package testenv

import (
	"os"
	"path/filepath"
	"strings"
)

// WriteFiles makes files under dir, by slash-separated name, with their
// parent directories (0755). A body "->target" makes a symlink to target;
// any other is a file's content, written with mode.
func WriteFiles(dir string, mode os.FileMode, files map[string]string) error {
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if target, ok := strings.CutPrefix(body, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			return err
		}
	}
	return nil
}
