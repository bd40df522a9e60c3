// Package dirlist lists directories: the one place the builder reads a
// directory's names.
package dirlist

import (
	"os"
	"sort"
)

// Names returns the names of dir's entries, sorted.
func Names(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}
