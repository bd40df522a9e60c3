package build

import (
	"fmt"
	"path"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/isolation"
)

// secrets turns RUN's --mount=type=secret options into the files and
// environment variables the step gets, as BuildKit does: a file at
// /run/secrets/ID (or target=), mode 0400 unless mode= says otherwise,
// and with env=VAR the value in VAR instead (and also a file when target=
// is given). A secret that was not given is skipped unless required.
func (b *builder) secrets(mounts []dockerfile.Mount) ([]isolation.Secret, []string, error) {
	var files []isolation.Secret
	var env []string
	for _, m := range mounts {
		if m.Type != "secret" {
			continue // see mounts
		}
		id := m.ID
		if id == "" && m.Target != "" {
			id = path.Base(m.Target)
		}
		if id == "" {
			return nil, nil, fmt.Errorf("RUN --mount=type=secret needs id= or target=")
		}
		data, ok := b.opts.Secrets[id]
		if !ok {
			if m.Required {
				return nil, nil, fmt.Errorf("secret %s is required but was not given to the build", id)
			}
			continue
		}
		if m.Env != "" {
			env = append(env, m.Env+"="+string(data))
			if m.Target == "" {
				continue
			}
		}
		target := m.Target
		if target == "" {
			target = "/run/secrets/" + id
		}
		sec := isolation.Secret{Target: path.Clean("/" + target), Data: data, Mode: 0o400}
		if m.Mode != nil {
			sec.Mode = uint32(*m.Mode)
		}
		if m.UID != nil {
			sec.UID = uint32(*m.UID)
		}
		if m.GID != nil {
			sec.GID = uint32(*m.GID)
		}
		files = append(files, sec)
	}
	return files, env, nil
}
