package testenv

import (
	"archive/tar"
	"bytes"
	"strings"
)

// Hostile is a tar archive written to escape the directory it is unpacked
// in, or to exhaust it.
type Hostile struct {
	Name string
	Tar  []byte
	// Setup names symlinks to make in the root before unpacking: name ->
	// target (links already on disk that point outside).
	Setup map[string]string
}

// entry is one tar entry of a hostile archive.
type entry struct {
	name, link string
	typ        byte
	body       string
	size       int64 // when set, the header claims this size
}

func file(name string) entry            { return entry{name: name, typ: tar.TypeReg, body: "pwned\n"} }
func symlink(name, to string) entry     { return entry{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) entry    { return entry{name: name, typ: tar.TypeLink, link: to} }
func directory(name string) entry       { return entry{name: name, typ: tar.TypeDir} }
func special(name string, t byte) entry { return entry{name: name, typ: t} }

// HostileArchives is the corpus: each tries to write, link, delete or
// create something outside the root it is unpacked into (the files it
// aims at are ESCAPE and /tmp/builder-hostile-*), or to exhaust it.
func HostileArchives() []Hostile {
	deep := strings.Repeat("../", 30)
	cases := []struct {
		name    string
		entries []entry
		setup   map[string]string
	}{
		{"dot-dot file", []entry{file("../ESCAPE")}, nil},
		{"deep dot-dot file", []entry{file(deep + "tmp/builder-hostile-deep")}, nil},
		{"dot-dot inside a path", []entry{directory("a/"), file("a/../../ESCAPE")}, nil},
		{"absolute path", []entry{file("/tmp/builder-hostile-abs")}, nil},
		{"absolute symlink then a file through it", []entry{symlink("l", "/tmp"), file("l/builder-hostile-abslink")}, nil},
		{"relative symlink out then a file through it", []entry{symlink("l", "../"), file("l/ESCAPE")}, nil},
		{"deep relative symlink then a file", []entry{symlink("l", deep+"tmp"), file("l/builder-hostile-deeplink")}, nil},
		{"symlink chain out", []entry{symlink("a", "b"), symlink("b", "c"), symlink("c", "/tmp"), file("a/builder-hostile-chain")}, nil},
		{"directory replaced by a symlink", []entry{directory("d/"), file("d/x"), symlink("d", "/tmp"), file("d/builder-hostile-replaced")}, nil},
		{"symlink already on disk", []entry{file("ondisk/builder-hostile-ondisk")}, map[string]string{"ondisk": "/tmp"}},
		{"relative symlink already on disk", []entry{file("up/ESCAPE")}, map[string]string{"up": ".."}},
		{"hardlink to an absolute path", []entry{hardlink("h", "/etc/passwd"), file("h")}, nil},
		{"hardlink with dot-dot", []entry{hardlink("h", "../ESCAPE-TARGET")}, nil},
		{"hardlink through a symlink", []entry{symlink("l", "/etc"), hardlink("h", "l/passwd")}, nil},
		{"whiteout with dot-dot", []entry{file("../.wh.ESCAPE-TARGET")}, nil},
		{"whiteout through a symlink", []entry{symlink("l", "/tmp"), file("l/.wh.builder-hostile-victim")}, nil},
		{"opaque marker through a symlink", []entry{symlink("l", ".."), file("l/.wh..wh..opq")}, nil},
		{"symlink loop", []entry{symlink("a", "b"), symlink("b", "a"), file("a/x")}, nil},
		{"character device", []entry{special("dev/evil", tar.TypeChar)}, nil},
		{"block device", []entry{special("dev/sda-evil", tar.TypeBlock)}, nil},
		// A directory entry reached through a symlink must not be
		// remembered by its name: the next entry below that name would
		// be opened through the symlink by the kernel, outside the root.
		{"directory entry through a symlink, then below it", []entry{symlink("l", "../../../../../../../.."), directory("l/tmp"),
			file("l/tmp/builder-hostile-escape")}, nil},
		{"fifo through a symlink", []entry{symlink("l", "/tmp"), special("l/builder-hostile-fifo", tar.TypeFifo)}, nil},
		{"absurd size", []entry{{name: "huge", typ: tar.TypeReg, body: "short", size: 1 << 40}}, nil},
		{"very long name", []entry{file(strings.Repeat("n/", 2000) + "f")}, nil},
		{"file named dot-dot", []entry{file("..")}, nil},
	}
	var out []Hostile
	for _, c := range cases {
		out = append(out, Hostile{Name: c.name, Tar: writeEntries(c.entries), Setup: c.setup})
	}
	return out
}

func writeEntries(entries []entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o755, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
			if e.size != 0 {
				h.Size = e.size
			}
		}
		if e.typ == tar.TypeChar || e.typ == tar.TypeBlock {
			h.Devmajor, h.Devminor = 8, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			continue
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	// A deliberately short archive (absurd size) leaves the writer unable
	// to close cleanly; the bytes so far are the point.
	tw.Flush()
	return buf.Bytes()
}
