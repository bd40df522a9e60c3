package build_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/buildcrew/builder/pkg/build"
)

// Build the repository's hello example and look at the result: a
// go-containerregistry v1.Image, ready for remote.Write or push.Publish.
func ExampleBuild() {
	work, err := os.MkdirTemp("", "example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)

	res, err := build.Build(context.Background(), build.Options{
		ContextDir: "../../examples/hello",
		WorkDir:    work,
		Format:     build.OCI,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer res.Close()

	cfg, err := res.Image.ConfigFile()
	if err != nil {
		log.Fatal(err)
	}
	layers, err := res.Image.Layers()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("entrypoint:", cfg.Config.Entrypoint)
	fmt.Println("layers:", len(layers))
	fmt.Println("title:", cfg.Config.Labels["org.opencontainers.image.title"])
	// Output:
	// entrypoint: [/hello]
	// layers: 2
	// title: hello
}
