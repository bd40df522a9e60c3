//go:build !linux

package spread

// Children does nothing: only Linux filesystems take the hint.
func Children(dir string) {}
