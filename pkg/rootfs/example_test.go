package rootfs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/buildcrew/builder/pkg/rootfs"
)

// A Maker unpacks an image's layers into a root of its own.
func ExampleMaker_Unpacked() {
	work, _ := os.MkdirTemp("", "work-")
	defer os.RemoveAll(work)
	m, err := rootfs.New(rootfs.Options{Work: work})
	if err != nil {
		panic(err)
	}
	defer m.Wait()

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc/hostname", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4})
	tw.Write([]byte("box\n"))
	tw.Close()
	layer, _ := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })

	root, err := m.Unpacked(context.Background(), "stage-0", []v1.Layer{layer}, nil)
	if err != nil {
		panic(err)
	}
	data, _ := os.ReadFile(filepath.Join(root.Dir, "etc/hostname"))
	fmt.Printf("%s", data)
	// Output: box
}
