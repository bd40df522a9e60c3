// Package atomicfile writes files that readers see whole or not at all.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write makes p hold data, mode 0644: it writes a temporary file beside p
// and renames it over p, so a reader (another build sharing a cache, a CI
// step reading a digest file) never sees half a file.
func Write(p string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing there
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
