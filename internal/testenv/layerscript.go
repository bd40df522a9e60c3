package testenv

import (
	"archive/tar"
	"bytes"
	"path"
	"time"
)

// Names and link targets layer scripts choose from: few, so that entries
// meet each other often (a file where a directory was, a whiteout of
// what a lower layer made, a path through a symlink).
var (
	scriptNames   = []string{"a", "a/b", "a/b/c", "b", "b/c", "etc", "etc/passwd", "l", "l/x", "etc/group"}
	scriptTargets = []string{"a", "a/b", "../b", "/etc", "etc/passwd", "b/c", "l", "."}
)

// LayerScript turns bytes (a fuzzer's) into layer archives. Each three
// bytes make one entry: a kind (directory, file, symlink, hard link,
// whiteout, opaque marker, fifo, or the start of the next layer), a name
// and a link target. A file's content is its name; times are fixed.
func LayerScript(prog []byte) [][]byte {
	var layers [][]byte
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	next := func() {
		tw.Close()
		layers = append(layers, append([]byte(nil), buf.Bytes()...))
		buf.Reset()
		tw = tar.NewWriter(&buf)
	}
	for i := 0; i+2 < len(prog); i += 3 {
		name := scriptNames[int(prog[i+1])%len(scriptNames)]
		h := &tar.Header{Name: name, Mode: 0o644, ModTime: time.Unix(1_700_000_000, 0), Format: tar.FormatPAX}
		switch prog[i] % 8 {
		case 0:
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, name+"/", 0o755
		case 1:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(name))
		case 2:
			h.Typeflag, h.Linkname = tar.TypeSymlink, scriptTargets[int(prog[i+2])%len(scriptTargets)]
		case 3:
			h.Typeflag, h.Linkname = tar.TypeLink, scriptNames[int(prog[i+2])%len(scriptNames)]
		case 4:
			dir, base := path.Split(name)
			h.Typeflag, h.Name = tar.TypeReg, dir+".wh."+base
		case 5:
			h.Typeflag, h.Name = tar.TypeReg, name+"/.wh..wh..opq"
		case 6:
			h.Typeflag = tar.TypeFifo
		case 7:
			next()
			continue
		}
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte(name))
		}
	}
	next()
	return layers
}
