package isolation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/buildcrew/builder/pkg/isolation/internal/stephelper"
)

// None runs commands directly in the builder's own container, at "/",
// with no namespaces and no mounts: kaniko's model, for unprivileged Pods
// where chroot isolation cannot create namespaces. The command sees the
// container's hostname, network and mounts; Spec.Root must be "/".
type None struct{}

// Run runs spec.Args as spec.UID:spec.GID and waits for it; what the
// command leaves running ends with it. Cancelling ctx kills the step's
// process group.
func (None) Run(ctx context.Context, spec *Spec) (err error) {
	if filepath.Clean(spec.Root) != "/" {
		return fmt.Errorf("isolation none runs commands at / only, not in %s", spec.Root)
	}
	if spec.Network == "none" {
		return errors.New("RUN --network=none needs chroot isolation: in isolation none the step shares the container's network")
	}
	if len(spec.Args) == 0 {
		return errors.New("no command given")
	}
	unmount, err := placeMounts(spec.Mounts)
	defer func() {
		if uerr := unmount(); uerr != nil && err == nil {
			err = fmt.Errorf("taking the step's mounts away: %w", uerr)
		}
	}()
	if err != nil {
		return err
	}
	// Here-document scripts and secrets alike exist for the step only.
	remove, err := placeFiles(append(stepFiles(spec.Files), spec.Secrets...))
	defer remove()
	if err != nil {
		return err
	}
	// The helper runs the command in place (making a missing working
	// directory along the path as written, as runc does) and ends
	// whatever the step leaves running when it exits (see
	// stephelper.Config.InPlace).
	cfg := &stephelper.Config{Root: "/", Args: spec.Args, Env: spec.Env, Dir: spec.Dir,
		UID: spec.UID, GID: spec.GID, Groups: spec.Groups, InPlace: true, SameUser: keepsIdentity(spec)}
	return runHelper(ctx, spec, cfg, Limits{})
}

// keepsIdentity tells whether the step runs as the builder's process
// is, without switching: the same user, and the same supplementary
// groups. The step gets exactly the spec's groups, as in chroot isolation
// and BuildKit (root's are [0]: `id` says groups=0(root)), not whatever
// the builder's process was started with: a Pod's runtime gives it none.
// A builder that is not root cannot set groups; it keeps its own when it
// is the step's user.
func keepsIdentity(spec *Spec) bool {
	sameUser := int(spec.UID) == os.Geteuid() && int(spec.GID) == os.Getegid()
	return sameUser && (os.Geteuid() != 0 || sameGroups(spec.Groups))
}

// sameGroups tells whether the process's supplementary groups are the
// set groups.
func sameGroups(groups []uint32) bool {
	have, err := os.Getgroups()
	if err != nil {
		return false
	}
	set := func(gs []uint32) map[uint32]bool {
		m := map[uint32]bool{}
		for _, g := range gs {
			m[g] = true
		}
		return m
	}
	haveIDs := make([]uint32, len(have))
	for i, g := range have {
		haveIDs[i] = uint32(g)
	}
	return maps.Equal(set(haveIDs), set(groups))
}

// stepFiles places Spec.Files at PipesDir, mode 0755, owned by the
// builder.
func stepFiles(files map[string][]byte) []Secret {
	var out []Secret
	for name, data := range files {
		out = append(out, Secret{Target: filepath.Join(PipesDir, name), Data: data, Mode: 0o755,
			UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())})
	}
	return out
}

// placeFiles writes the step's files at their targets, with the
// directories they need, and returns what removes all of it again, so the
// snapshot after the step never sees them.
func placeFiles(secrets []Secret) (func(), error) {
	var made []string // files and directories, in creation order
	undo := func() {
		for i := len(made) - 1; i >= 0; i-- {
			os.Remove(made[i])
		}
	}
	for _, sec := range secrets {
		if _, err := os.Lstat(sec.Target); err == nil {
			return undo, fmt.Errorf("cannot place a file for the step at %s: something is there", sec.Target)
		}
		var dirs []string
		for d := filepath.Dir(sec.Target); d != "/"; d = filepath.Dir(d) {
			if _, err := os.Lstat(d); err == nil {
				break
			}
			dirs = append([]string{d}, dirs...)
		}
		for _, d := range dirs {
			if err := os.Mkdir(d, 0o755); err != nil {
				return undo, fmt.Errorf("placing a file for the step: %w", err)
			}
			made = append(made, d)
		}
		f, err := os.OpenFile(sec.Target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(sec.Mode&0o777))
		if err != nil {
			return undo, fmt.Errorf("placing a file for the step: %w", err)
		}
		made = append(made, sec.Target)
		_, err = f.Write(sec.Data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chown(sec.Target, int(sec.UID), int(sec.GID))
		}
		if err != nil {
			return undo, fmt.Errorf("placing a file for the step: %w", err)
		}
	}
	return undo, nil
}
