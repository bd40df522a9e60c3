package spread

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func flagsOf(t *testing.T, dir string) uint32 {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
		t.Skipf("the filesystem of %s has no inode flags: %v", dir, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return flags
}

func TestChildren(t *testing.T) {
	dir := t.TempDir()
	before := flagsOf(t, dir)
	Children(dir)
	after := flagsOf(t, dir)
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	switch {
	case after&topDirFlag != 0:
	case fs.Type == unix.EXT4_SUPER_MAGIC:
		t.Errorf("ext4 did not keep the flag: %#x -> %#x", before, after)
	default:
		t.Logf("the flag did not stick (%#x -> %#x): a filesystem without it", before, after)
	}
	if after&^topDirFlag != before&^topDirFlag {
		t.Errorf("other flags changed: %#x -> %#x", before, after)
	}
	// A hint: paths it cannot mark are left alone, without a failure.
	Children(filepath.Join(dir, "missing"))
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	Children(link)
}
