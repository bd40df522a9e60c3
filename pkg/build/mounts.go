package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/buildcrew/builder/pkg/cache"
	"github.com/buildcrew/builder/pkg/copier"
	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/isolation"
)

// stepMounts is what a RUN step's cache, bind and tmpfs mounts give it,
// and what to undo once it has run.
type stepMounts struct {
	mounts []isolation.Mount
	env    []string // SSH_AUTH_SOCK, for ssh mounts
	undo   []func()
}

// release unlocks the caches and deletes the private copies.
func (m *stepMounts) release() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		m.undo[i]()
	}
}

// mounts prepares the step's RUN --mount options other than secrets
// (see secrets), as BuildKit gives them: a cache persists between builds
// in the cache mount directory, a bind shows a stage's, an image's or
// (by default) the context's files, read-only unless rw (then writes are
// thrown away), a tmpfs is empty, ssh is an agent's socket. Nothing under
// a mount reaches a layer.
func (b *builder) mounts(ctx context.Context, st *stage, c *dockerfile.Run) (_ *stepMounts, err error) {
	sm := &stepMounts{}
	defer func() {
		if err != nil {
			sm.release()
		}
	}()
	nSSH := 0
	for _, m := range c.Mounts {
		if m.Type == "secret" {
			continue
		}
		if m.Type == "ssh" {
			mt, ok, err := b.sshMount(m, nSSH, sm)
			nSSH++
			if err != nil {
				return nil, err
			}
			if ok {
				if _, set := st.vars.Get("SSH_AUTH_SOCK"); !set && len(sm.env) == 0 {
					sm.env = append(sm.env, "SSH_AUTH_SOCK="+mt.Target)
				}
				sm.mounts = append(sm.mounts, mt)
			}
			continue
		}
		if m.Target == "" {
			return nil, fmt.Errorf("RUN --mount=type=%s needs a target", m.Type)
		}
		target := m.Target
		if !path.IsAbs(target) {
			target = path.Join("/", st.config.Config.WorkingDir, target)
		}
		var mt isolation.Mount
		switch m.Type {
		case "cache":
			mt, err = b.cacheMount(ctx, st, m, sm)
		case "bind":
			mt, err = b.bindMount(ctx, st, m, sm)
		case "tmpfs":
			mt = isolation.Mount{Size: m.Size}
		default:
			err = fmt.Errorf("RUN --mount=type=%s is not supported yet", m.Type)
		}
		if err != nil {
			return nil, err
		}
		mt.Target = target
		sm.mounts = append(sm.mounts, mt)
	}
	return sm, nil
}

// cacheMount gives the step the cache directory of m's id (by default its
// target), made the first time from from= and source= or empty, with
// mode= (0755), uid= and gid= (0).
func (b *builder) cacheMount(ctx context.Context, st *stage, m dockerfile.Mount, sm *stepMounts) (isolation.Mount, error) {
	id := m.ID
	if id == "" {
		id = m.Target
	}
	b.noteCacheMount(id)
	fill := func(dir string) error {
		switch {
		case b.restoreCacheMount(ctx, id, dir): // exported by an earlier build
		case m.From != "":
			copied, err := b.copyFrom(ctx, st, m.From, m.Source, dir)
			if err != nil {
				return err
			}
			if copied != dir {
				return fmt.Errorf("cache mount source %s is not a directory", m.Source)
			}
		default:
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
		}
		mode := os.FileMode(0o755)
		if m.Mode != nil {
			mode = os.FileMode(*m.Mode) & os.ModePerm
		}
		uid, gid := 0, 0
		if m.UID != nil {
			uid = int(*m.UID)
		}
		if m.GID != nil {
			gid = int(*m.GID)
		}
		if err := os.Chown(dir, uid, gid); err != nil && os.Geteuid() == 0 {
			return err
		}
		return os.Chmod(dir, mode)
	}
	store := cache.Mounts{Dir: b.opts.CacheMountDir}
	dir, release, err := store.Acquire(ctx, id, cache.Sharing(m.Sharing), fill)
	if err != nil {
		return isolation.Mount{}, err
	}
	sm.undo = append(sm.undo, release)
	return isolation.Mount{Source: dir, ReadOnly: m.ReadOnly}, nil
}

// bindMount gives the step a path of the context, a stage or an image:
// read-only, or a private copy with rw.
func (b *builder) bindMount(ctx context.Context, st *stage, m dockerfile.Mount, sm *stepMounts) (isolation.Mount, error) {
	src, err := b.fromSource(ctx, st, m.From)
	if err != nil {
		return isolation.Mount{}, err
	}
	if !m.ReadOnly || src.Ignore != nil {
		// A copy: the step's writes go nowhere, and a context's copy holds
		// only what .dockerignore lets through.
		tmp, err := os.MkdirTemp(filepath.Join(b.work, "tmp"), "bind-")
		if err != nil {
			return isolation.Mount{}, err
		}
		sm.undo = append(sm.undo, func() { b.maker.Discard(tmp) })
		copied, err := b.copyFrom(ctx, st, m.From, m.Source, filepath.Join(tmp, "src"))
		if err != nil {
			return isolation.Mount{}, err
		}
		return isolation.Mount{Source: copied, ReadOnly: m.ReadOnly}, nil
	}
	host, err := securejoin.SecureJoin(src.Root, m.Source)
	if err != nil {
		return isolation.Mount{}, err
	}
	if _, err := os.Stat(host); err != nil {
		return isolation.Mount{}, fmt.Errorf("bind source %s in %s: %w", m.Source, src.Name, errors.Unwrap(err))
	}
	return isolation.Mount{Source: host, ReadOnly: true}, nil
}

// copyFrom copies source (a file or directory, "/" by default) of what
// from names into dir, which it makes, as COPY would, and returns the
// copy: dir, or the file in it.
func (b *builder) copyFrom(ctx context.Context, st *stage, from, source, dir string) (string, error) {
	src, err := b.fromSource(ctx, st, from)
	if err != nil {
		return "", err
	}
	if source == "" {
		source = "/"
	}
	matches, err := src.Resolve(source)
	if err != nil {
		return "", err
	}
	if len(matches) != 1 {
		return "", fmt.Errorf("mount source %s: want one path in %s, found %d", source, src.Name, len(matches))
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	fi, err := os.Stat(matches[0].Host)
	if err != nil {
		return "", err
	}
	dest := "/"
	if !fi.IsDir() {
		dest = "/" + path.Base("/"+matches[0].Rel)
	}
	if err := copier.New(dir, src, copier.Options{}).Copy(ctx, matches[0], dest, false); err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(dest)), nil
}
