// Package atomicfile writes files that readers see whole or not at all.
package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
)

// Write makes p hold data, mode 0644 (see WriteFunc).
func Write(p string, data []byte) error {
	return WriteFunc(p, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}

// WriteFunc makes p hold what write writes, with mode: it writes a
// temporary file beside p and renames it over p only when write and the
// close succeed, so a reader (another build sharing a cache, a CI step
// reading a digest file) never sees half a file, and a failed write
// leaves p as it was.
func WriteFunc(p string, mode os.FileMode, write func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing there
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
