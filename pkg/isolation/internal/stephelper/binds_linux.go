package stephelper

import "syscall"

// bind makes one of the step's binds or tmpfs mounts. The target is
// opened one component at a time without following a symlink, and the
// mount goes onto that descriptor: a symlink a step left in the root or
// in a cache directory never sends a mount outside the root. The builder
// made every mount point in the root beforehand; one inside an earlier
// mount (a cache directory, a tmpfs) is made here, in that mount.
func bind(root string, b Bind, insecure bool) error {
	fd, err := openInRoot(root, b.Target, b)
	if err != nil {
		return wrap("opening the mount point "+b.Target, err)
	}
	defer syscall.Close(fd)
	target := "/proc/self/fd/" + string(appendUint(nil, uint64(fd)))
	if b.Tmpfs {
		data := ""
		if b.Size > 0 {
			data = "size=" + string(appendUint(nil, b.Size))
		}
		return mount("tmpfs", target, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, data)
	}
	if err := mount(b.Source, target, "", syscall.MS_BIND, ""); err != nil {
		return err
	}
	flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT)
	if !insecure {
		flags |= syscall.MS_NODEV
	}
	if b.ReadOnly {
		flags |= syscall.MS_RDONLY
	}
	if flags == syscall.MS_BIND|syscall.MS_REMOUNT {
		return nil
	}
	// The new mount is at the same path; the descriptor still names the
	// directory under it, so remount through the path, resolved again
	// the same safe way.
	over, err := openInRoot(root, b.Target, b)
	if err != nil {
		return wrap("opening the mount point "+b.Target, err)
	}
	defer syscall.Close(over)
	return mount("", "/proc/self/fd/"+string(appendUint(nil, uint64(over))), "", flags, "")
}

// oPath is O_PATH, which package syscall lacks: the same value on every
// Linux architecture this builds for.
const oPath = 0x200000

// openInRoot opens rel inside root as an O_PATH descriptor, refusing a
// symlink anywhere on the way, and making the last component when it is
// missing (a directory, or an empty file for a file's bind).
func openInRoot(root, rel string, b Bind) (int, error) {
	fd, err := syscall.Open(root, oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for len(rel) > 0 {
		for len(rel) > 0 && rel[0] == '/' {
			rel = rel[1:]
		}
		i := 0
		for i < len(rel) && rel[i] != '/' {
			i++
		}
		name, rest := rel[:i], rel[i:]
		rel = rest
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			syscall.Close(fd)
			return -1, syscall.EINVAL
		}
		last := len(rest) == 0 || onlySlashes(rest)
		next, err := openat(fd, name, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC)
		if err == syscall.ENOENT && last {
			if err = makeMountPoint(fd, name, b); err == nil {
				next, err = openat(fd, name, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC)
			}
		}
		syscall.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			syscall.Close(fd)
			return -1, err
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
			syscall.Close(fd)
			return -1, syscall.ELOOP
		}
	}
	return fd, nil
}

func onlySlashes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '/' {
			return false
		}
	}
	return true
}

// makeMountPoint makes a missing mount point in dirfd: a directory, or an
// empty file for a file's bind.
func makeMountPoint(dirfd int, name string, b Bind) error {
	var src syscall.Stat_t
	if !b.Tmpfs {
		if err := syscall.Stat(b.Source, &src); err != nil {
			return err
		}
	}
	if b.Tmpfs || src.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return syscall.Mkdirat(dirfd, name, 0o755)
	}
	fd, err := openat(dirfd, name, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC)
	if err != nil {
		return err
	}
	return syscall.Close(fd)
}

// openat is syscall.Openat with mode 0644 for what it creates.
func openat(dirfd int, name string, flags int) (int, error) {
	return syscall.Openat(dirfd, name, flags, 0o644)
}
