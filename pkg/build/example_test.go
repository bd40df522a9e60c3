package build_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

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

// Check a Dockerfile without building it, as docker build --check: every
// stage, nothing run, nothing written.
func ExampleCheck() {
	dir, err := os.MkdirTemp("", "example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	df := "FROM scratch as build\nCOPY . /src\nFROM scratch\nCOPY --from=build /src/app /app\nCMD /app\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		log.Fatal(err)
	}

	res, err := build.Check(context.Background(), build.Options{ContextDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range res.Warnings {
		fmt.Println(w)
	}
	// Output:
	// Dockerfile:1: FromAsCasing: 'as' and 'FROM' keywords' casing do not match
	// Dockerfile:5: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals
}
