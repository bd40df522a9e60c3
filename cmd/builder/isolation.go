package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/isolation"
)

// imageDir is where the builder's own image keeps the binary (also as
// /kaniko/executor), as kaniko's image does.
const imageDir = "/kaniko"

// host is what the isolation choice needs to know about the machine.
type host struct {
	inContainer func() (bool, string)
	namespaces  func() error // nil when chroot isolation can make namespaces
	executable  func() (string, error)
	systemPaths func() ([]string, error)
}

var realHost = host{inContainer: isolation.InContainer, namespaces: isolation.CanNamespace, executable: os.Executable, systemPaths: isolation.SystemPaths}

// inImage tells whether the builder runs from its own image's layout.
func (h host) inImage() bool {
	exe, err := h.executable()
	return err == nil && filepath.Dir(exe) == imageDir
}

// defaultWorkDir keeps the work in the builder's own directory when it runs
// from its image: that directory is never part of the image being built.
// KANIKO_DIR stands for --kaniko-dir, as in kaniko.
func (f *buildFlags) defaultWorkDir(h host) {
	if f.kanikoDir == "" {
		f.kanikoDir = os.Getenv("KANIKO_DIR")
	}
	if f.workDir == "" && f.kanikoDir == "" && h.inImage() {
		f.workDir = filepath.Join(imageDir, "work")
	}
}

// setIsolation picks how RUN is isolated and, for none, makes the build
// happen at "/" with the container's own files left alone. Automatic
// choice picks none only inside a container running the builder's own
// image: elsewhere (a developer's container, a CI job's) building at /
// would replace that container's files.
func (f *buildFlags) setIsolation(bo *build.Options, h host, warn io.Writer) error {
	mode := f.isolation
	inContainer, why := h.inContainer()
	if mode == "" {
		mode = "chroot"
		if h.inImage() && !inContainer {
			// The builder's own image with no marker (plain runc, ctr,
			// nerdctl): a container all the same if it cannot make the
			// namespaces a machine could.
			if err := h.namespaces(); err != nil {
				inContainer, why = true, "the builder's own image, where namespaces cannot be made: "+err.Error()
			}
		}
		if inContainer && h.inImage() {
			mode = "none"
			fmt.Fprintf(warn, "isolation: none, building at / of this container (%s)\n", why)
		}
	}
	switch mode {
	case "chroot":
		if len(f.ignorePaths) > 0 || f.cleanup {
			return fmt.Errorf("--ignore-path and --cleanup apply to --isolation=none only")
		}
		return nil
	case "none":
	default:
		return fmt.Errorf("--isolation %q: use chroot or none", f.isolation)
	}
	if !inContainer && !f.force {
		return fmt.Errorf("--isolation=none builds at / and deletes the files of the machine it runs on; "+
			"this does not look like a container (%s): run it in one, or pass --force if this machine is disposable", why)
	}
	paths, err := h.systemPaths()
	if err != nil {
		return err
	}
	if !f.ignoreVarRun {
		paths = without(paths, "/var/run")
	}
	for _, p := range f.ignorePaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("--ignore-path %s: give an absolute path", p)
		}
		paths = append(paths, p)
	}
	bo.Root, bo.Ignore, bo.Cleanup, bo.Runner = "/", paths, f.cleanup, isolation.None{}
	return nil
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if strings.TrimSuffix(s, "/") != drop {
			out = append(out, s)
		}
	}
	return out
}
