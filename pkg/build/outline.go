package build

import "github.com/buildcrew/builder/pkg/dockerfile"

// userFiles are the files COPY --chown and WORKDIR read in the root, kept
// whole in an outline.
var userFiles = []string{"etc/passwd", "etc/group"}

// readsFiles tells whether any of the steps reads the root's files.
func readsFiles(steps []*dockerfile.Step) bool {
	for _, s := range steps {
		if s.Keyword == "RUN" || s.Keyword == "ADD" {
			return true
		}
	}
	return false
}
