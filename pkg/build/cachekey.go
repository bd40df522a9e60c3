package build

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/internal/dirlist"
	"github.com/buildcrew/builder/internal/filecopy"
	"github.com/buildcrew/builder/pkg/copier"
	"github.com/buildcrew/builder/pkg/dockerfile"
)

// keyHash builds a cache key from fields framed by their length, so no
// two different field lists hash the same bytes ("a b"+"c" vs "a"+"b c").
type keyHash struct{ h hash.Hash }

func newKeyHash(kind string) *keyHash {
	k := &keyHash{h: sha256.New()}
	k.field("builder-cache-v1")
	k.field(kind)
	return k
}

func (k *keyHash) field(s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	k.h.Write(n[:])
	io.WriteString(k.h, s)
}

func (k *keyHash) fields(list []string) {
	k.field(fmt.Sprint(len(list)))
	for _, s := range list {
		k.field(s)
	}
}

func (k *keyHash) sum() string { return hex.EncodeToString(k.h.Sum(nil)) }

// uncacheable is a key nothing was ever stored under, for steps whose
// inputs cannot be known before running them; the chain after it misses.
func uncacheable() string {
	var b [32]byte
	rand.Read(b[:])
	return "nocache-" + hex.EncodeToString(b[:])
}

// baseKey starts a stage's key chain: an image by its digest, scratch by
// the platform, a stage by that stage's last key.
func baseKey(kind, id string, platform v1.Platform) string {
	k := newKeyHash("base")
	k.field(kind)
	k.field(id)
	k.field(platform.String())
	return k.sum()
}

// stepKey is a step's key: the key before it (but for COPY --link), the
// instruction after expansion, the ARG and ENV values it can see, and for COPY and ADD what
// its sources hold. The second result is false when the step cannot be
// cached.
func (b *builder) stepKey(ctx context.Context, st *stage, ins dockerfile.Instruction) (string, keyInputs, bool, error) {
	in := keyInputs{}
	k := newKeyHash("step")
	if !linked(ins) {
		// A linked layer does not depend on what is below it: its key
		// does not either (step chains it on).
		k.field(st.key)
		in["the steps before it"] = st.key
	}
	k.field(fmt.Sprintf("%T", ins))
	j, err := json.Marshal(ins)
	if err != nil {
		return "", nil, false, err
	}
	text, env := string(j), st.vars.Environ()
	for _, name := range b.opts.CacheKeyIgnoreArgs {
		if v, ok := st.vars.Get(name); ok && v != "" {
			// The value, wherever it went (the expanded command, an ENV
			// made from it), counts as the name alone.
			text = strings.ReplaceAll(text, v, "\x00"+name)
			for i := range env {
				env[i] = strings.ReplaceAll(env[i], v, "\x00"+name)
			}
		}
	}
	k.field(text)
	sort.Strings(env)
	k.fields(env)
	in["the instruction"] = digestOf(fmt.Sprintf("%T", ins), text)
	in["the ARG and ENV values"] = digestOf(env...)
	var inputs func() (string, bool, error)
	switch c := ins.(type) {
	case *dockerfile.Copy:
		inputs = func() (string, bool, error) { return b.copySourceKey(ctx, st, c) }
	case *dockerfile.Run:
		inputs = func() (string, bool, error) { return b.mountsKey(ctx, st, c) }
	}
	if inputs != nil {
		sum, ok, err := inputs()
		if err != nil || !ok {
			return "", nil, false, err
		}
		k.field(sum)
		in["the files it reads"] = sum
	}
	return k.sum(), in, true, nil
}

// keyInputs are digests of what a step's key was made of, by what they
// are, for explaining a miss (see explainMiss).
type keyInputs map[string]string

// digestOf hashes fields as a key does.
func digestOf(fields ...string) string {
	k := newKeyHash("input")
	k.fields(fields)
	return k.sum()
}

// copySourceKey hashes what COPY or ADD reads: context files by content,
// a stage by its key, an image by its digest. ADD of a URL without
// --checksum cannot be known before downloading it.
func (b *builder) copySourceKey(ctx context.Context, st *stage, c *dockerfile.Copy) (string, bool, error) {
	k := newKeyHash("sources")
	var paths []string
	for _, s := range c.Sources {
		if g, ok := gitSource(c, s); ok {
			key, ok := gitKey(ctx, g, c.Checksum)
			if !ok {
				return "", false, nil
			}
			k.field(key)
			continue
		}
		if !isURL(s) {
			paths = append(paths, s)
			continue
		}
		if c.Checksum == "" {
			return "", false, nil
		}
		k.field("url " + s + " " + c.Checksum)
	}
	if ok, err := b.hashSources(ctx, k, st, c.From, paths, c.Parents); !ok || err != nil {
		return "", false, err
	}
	return k.sum(), true, nil
}

// mountsKey hashes what RUN's bind mounts show the step, as
// copySourceKey does for COPY. Caches and tmpfs mounts add nothing: what
// a cache holds is not an input, as in BuildKit.
func (b *builder) mountsKey(ctx context.Context, st *stage, c *dockerfile.Run) (string, bool, error) {
	k := newKeyHash("mounts")
	for _, m := range c.Mounts {
		if m.Type != "bind" {
			continue
		}
		source := m.Source
		if source == "" {
			source = "/"
		}
		if ok, err := b.hashSources(ctx, k, st, m.From, []string{source}, false); !ok || err != nil {
			return "", false, err
		}
	}
	return k.sum(), true, nil
}

// hashSources adds to k what paths of a --from hold: the context's files
// by content, a stage by its key, an image by its digest. It reports false
// where the step itself will fail (a path that does not resolve).
func (b *builder) hashSources(ctx context.Context, k *keyHash, st *stage, fromName string, paths []string, parents bool) (bool, error) {
	if fromName != "" {
		from, err := b.df.ResolveFrom(fromName, st.index)
		if err != nil {
			return false, err
		}
		switch from.Kind {
		case dockerfile.BaseStage:
			other, err := b.stage(ctx, from.Stage)
			if err != nil {
				return false, err
			}
			k.field("stage " + other.key)
		case dockerfile.BaseScratch:
			k.field("scratch")
		default:
			p := b.platform
			img, err := b.pull(ctx, from.Image, &p)
			if err != nil {
				return false, err
			}
			k.field("image " + img.digest.String())
		}
		return true, nil
	}
	src := b.contextSource()
	for _, s := range paths {
		matches, err := resolveSource(src, s, parents)
		if err != nil {
			return false, nil // the step itself reports it
		}
		for _, m := range matches {
			k.field(m.Dest)
			if err := hashTree(ctx, k, src, m.Host, m.Real); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// hashTree adds a context path and everything under it (but what
// .dockerignore leaves out): names, types, modes, sizes, link targets and
// contents.
func hashTree(ctx context.Context, k *keyHash, src *copier.Source, host, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return err
	}
	// Not the owner nor the mtime, as in BuildKit: two clones of one
	// commit differ in both, and COPY gives context files to root (or
	// --chown) anyway.
	k.field(fmt.Sprintf("%s %o %d", rel, fi.Mode(), fi.Size()))
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(host)
		if err != nil {
			return err
		}
		k.field(target)
	case fi.Mode().IsRegular():
		sum, err := filecopy.SHA256(host)
		if err != nil {
			return err
		}
		k.field(sum)
	case fi.IsDir():
		names, err := dirlist.Names(host)
		if err != nil {
			return err
		}
		for _, n := range names {
			childRel, childHost := path.Join(rel, n), filepath.Join(host, n)
			// An ignored directory may still hold files an exception
			// ("!src/**") brings back, which COPY copies: hash those too.
			if src.Ignored(childRel) && !src.MayReinclude(childHost) {
				continue
			}
			if err := hashTree(ctx, k, src, childHost, childRel); err != nil {
				return err
			}
		}
	}
	return nil
}
