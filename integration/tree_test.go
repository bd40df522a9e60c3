package integration

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/internal/filecopy"
)

// node is what the conformance suite compares of one path.
type node struct {
	Type  string // file, dir, symlink, char, block, fifo, socket
	Mode  string // permission and setuid/setgid/sticky bits, in octal
	Owner string // uid:gid
	Size  int64  // regular files only
	Hash  string // sha256 of regular files
	Link  string // symlink target
	Links string // every name of a multiply linked file, for hardlink grouping
	Cap   string // security.capability, hex
}

func (n node) String() string {
	s := fmt.Sprintf("%s %s %s", n.Type, n.Mode, n.Owner)
	if n.Type == "file" {
		s += fmt.Sprintf(" %dB %.12s", n.Size, n.Hash)
	}
	if n.Link != "" {
		s += " -> " + n.Link
	}
	if n.Links != "" {
		s += " links=" + n.Links
	}
	if n.Cap != "" {
		s += " cap=" + n.Cap
	}
	return s
}

// treeOf reads every path under root, keyed by "/path".
func treeOf(root string) (map[string]node, error) {
	out := map[string]node{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel := "/" + filepath.ToSlash(strings.TrimPrefix(p, root+"/"))
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		n := node{Mode: fmt.Sprintf("%04o", st.Mode&0o7777), Owner: fmt.Sprintf("%d:%d", st.Uid, st.Gid)}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			n.Type, n.Size = "file", st.Size
			if n.Hash, err = filecopy.SHA256(p); err != nil {
				return err
			}
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case syscall.S_IFDIR:
			n.Type = "dir"
		case syscall.S_IFLNK:
			n.Type, n.Mode = "symlink", ""
			if n.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFCHR:
			n.Type = fmt.Sprintf("char %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		case syscall.S_IFBLK:
			n.Type = fmt.Sprintf("block %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		case syscall.S_IFIFO:
			n.Type = "fifo"
		default:
			n.Type = "socket"
		}
		buf := make([]byte, 64)
		if sz, err := unix.Lgetxattr(p, "security.capability", buf); err == nil {
			n.Cap = hex.EncodeToString(buf[:sz])
		}
		out[rel] = n
		return nil
	})
	for _, names := range inodes {
		if len(names) < 2 {
			continue
		}
		sort.Strings(names)
		for _, name := range names {
			n := out[name]
			n.Links = strings.Join(names, ",")
			out[name] = n
		}
	}
	return out, err
}

// diffTrees lists the paths whose nodes differ, as "path: ours | buildah".
func diffTrees(ours, theirs map[string]node) map[string]string {
	out := map[string]string{}
	for p, a := range ours {
		b, ok := theirs[p]
		switch {
		case !ok:
			out[p] = a.String() + " | (absent)"
		case a != b:
			out[p] = a.String() + " | " + b.String()
		}
	}
	for p, b := range theirs {
		if _, ok := ours[p]; !ok {
			out[p] = "(absent) | " + b.String()
		}
	}
	return out
}
