package registry

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is how references name Docker Hub's registry.
const dockerHub = name.DefaultRegistry

// AddMirror adds a mirror ("host[:port][/path]") for a registry ("host",
// "docker.io" for Docker Hub). Mirrors are tried in the order added.
func (o *Options) AddMirror(registry, mirror string) error {
	registry = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://"), "/")
	mirror = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(mirror, "https://"), "http://"), "/")
	if registry == "" || mirror == "" {
		return fmt.Errorf("mirror %q for registry %q: both must be given", mirror, registry)
	}
	if registry == "docker.io" || registry == "registry-1.docker.io" {
		registry = dockerHub
	}
	if _, err := name.NewRepository(mirror + "/x"); err != nil {
		return fmt.Errorf("mirror %q: %w", mirror, err)
	}
	if o.Mirrors == nil {
		o.Mirrors = map[string][]string{}
	}
	o.Mirrors[registry] = append(o.Mirrors[registry], mirror)
	return nil
}

// Candidates lists where to pull ref from, in order: each mirror of its
// registry, then the registry itself unless NoFallback is set.
func (o Options) Candidates(ref name.Reference) ([]name.Reference, error) {
	mirrors := o.Mirrors[ref.Context().RegistryStr()]
	out := make([]name.Reference, 0, len(mirrors)+1)
	for _, m := range mirrors {
		s := m + "/" + ref.Context().RepositoryStr()
		switch r := ref.(type) {
		case name.Digest:
			s += "@" + r.DigestStr()
		case name.Tag:
			s += ":" + r.TagStr()
		}
		mr, err := o.ParseReference(s)
		if err != nil {
			return nil, fmt.Errorf("mirror %s for %s: %w", m, ref, err)
		}
		out = append(out, mr)
	}
	if len(mirrors) == 0 || !o.NoFallback {
		out = append(out, ref)
	}
	return out, nil
}
