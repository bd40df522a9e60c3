package dockerfile_test

import (
	"fmt"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// Example parses a Dockerfile, plans the build of its last stage and runs
// BuildKit's checks of it: the warnings docker build would print, and
// the error its "# check=error=true" line asks for.
func Example() {
	src := []byte(`# check=error=true
FROM scratch as base
ENV GREETING hello
COPY greeting.txt /
CMD echo $GREETING
`)
	df, err := dockerfile.Parse("Dockerfile", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	amd64 := dockerfile.Platform{OS: "linux", Architecture: "amd64"}
	auto := dockerfile.PlatformArgs(amd64, amd64, "", nil)
	globals, err := df.Globals(auto, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := df.Plan("", globals)
	if err != nil {
		fmt.Println(err)
		return
	}
	lint, err := df.Lint(plan, auto, globals, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range lint.Warnings() {
		fmt.Println(w)
	}
	fmt.Println(lint.Err())
	// Output:
	// Dockerfile:2: FromAsCasing: 'as' and 'FROM' keywords' casing do not match
	// Dockerfile:3: LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format
	// Dockerfile:5: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals
	// Dockerfile:2: lint violation found for rules: FromAsCasing, JSONArgsRecommended, LegacyKeyValueFormat
}
