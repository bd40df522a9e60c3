package build

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// The instructions that only change the config. Each adds a history entry
// without a layer, worded as BuildKit words it.

// commit records a history entry, with the layer when there is one.
func (st *stage) commit(createdBy string, layer v1.Layer) error {
	h := v1.History{Created: st.now, CreatedBy: createdBy, EmptyLayer: layer == nil}
	if layer != nil {
		diffID, err := layer.DiffID()
		if err != nil {
			return err
		}
		st.layers = append(st.layers, layer)
		st.config.RootFS.DiffIDs = append(st.config.RootFS.DiffIDs, diffID)
		if st.onLayer != nil {
			st.onLayer(layer)
		}
	}
	st.config.History = append(st.config.History, h)
	return nil
}

// note records a history entry without a layer.
func (st *stage) note(createdBy string) {
	st.config.History = append(st.config.History, v1.History{Created: st.now, CreatedBy: createdBy, EmptyLayer: true})
}

func (st *stage) env(c *dockerfile.Env) {
	msg := "ENV"
	for _, kv := range c.Vars {
		st.vars.Set(kv.Key, kv.Value)
		st.config.Config.Env = setEnv(st.config.Config.Env, kv.Key, kv.Value)
		msg += " " + kv.Key + "=" + kv.Value
	}
	st.note(msg)
}

// setEnv replaces key in env or appends it.
func setEnv(env []string, key, val string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + val
			return env
		}
	}
	return append(env, key+"="+val)
}

// arg declares build arguments: a --build-arg wins, then the default
// (expanded now), then the global value of an ARG declared before FROM.
func (b *builder) arg(st *stage, c *dockerfile.Arg) error {
	var parts []string
	for _, a := range c.Args {
		b.mu.Lock()
		b.used[a.Key] = true
		b.mu.Unlock()
		var val *string
		if v, ok := b.opts.BuildArgs[a.Key]; ok {
			val = &v
		} else if a.Value != nil {
			v, unset, err := b.df.WordUnset(*a.Value, st.vars)
			if err != nil {
				return err
			}
			for _, k := range unset {
				if !slices.Contains(st.declared(), k) {
					st.argUnset = append(st.argUnset, k)
				}
			}
			val = &v
		} else if v, ok := b.globals.Get(a.Key); ok {
			val = &v
		}
		if val != nil {
			st.vars.Set(a.Key, *val)
			parts = append(parts, a.Key+"="+*val)
		} else {
			parts = append(parts, a.Key)
		}
		st.args = append(st.args, dockerfile.ArgDecl{Key: a.Key, Value: val})
	}
	st.note("ARG " + strings.Join(parts, " "))
	return nil
}

func (st *stage) user(c *dockerfile.User) {
	st.config.Config.User = c.User
	st.note("USER " + c.User)
}

// declared are the names of the ARGs in the stage's scope.
func (st *stage) declared() []string {
	names := make([]string, len(st.args))
	for i, a := range st.args {
		names[i] = a.Key
	}
	return names
}

// checkSize refuses a stage whose variables and labels together pass
// dockerfile.MaxVarsSize: they are in every RUN's environment and the
// image's config.
func (st *stage) checkSize() error {
	n := st.vars.Size()
	for k, v := range st.config.Config.Labels {
		n += len(k) + len(v)
	}
	if n > dockerfile.MaxVarsSize {
		return fmt.Errorf("the stage's ENV, ARG and LABEL values hold %d bytes, over %d: %w", n, dockerfile.MaxVarsSize, dockerfile.ErrTooLarge)
	}
	return nil
}

func (st *stage) label(c *dockerfile.Label) {
	if st.config.Config.Labels == nil {
		st.config.Config.Labels = map[string]string{}
	}
	msg := "LABEL"
	for _, kv := range c.Labels {
		st.config.Config.Labels[kv.Key] = kv.Value
		msg += " " + kv.Key + "=" + kv.Value
	}
	st.note(msg)
}

func (st *stage) expose(c *dockerfile.Expose) {
	if st.config.Config.ExposedPorts == nil {
		st.config.Config.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range c.Ports {
		st.config.Config.ExposedPorts[p] = struct{}{}
	}
	st.note(fmt.Sprintf("EXPOSE %v", c.Ports))
}

func (st *stage) volume(c *dockerfile.Volume) error {
	if st.config.Config.Volumes == nil {
		st.config.Config.Volumes = map[string]struct{}{}
	}
	for _, p := range c.Paths {
		if p == "" {
			return fmt.Errorf("VOLUME specified can not be an empty string")
		}
		st.config.Config.Volumes[p] = struct{}{}
	}
	st.note(fmt.Sprintf("VOLUME %v", c.Paths))
	return nil
}

// withShell prefixes a shell-form command line with the stage's SHELL.
func (st *stage) withShell(args []string) []string {
	sh := st.config.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(slices.Clone(sh), args...)
}

func (st *stage) cmd(c *dockerfile.Cmd) {
	args := c.Args
	if c.Shell {
		args = st.withShell(args)
	}
	st.config.Config.Cmd = args
	st.config.Config.ArgsEscaped = true
	st.cmdSet = true
	st.note(fmt.Sprintf("CMD %q", args))
}

func (st *stage) entrypoint(c *dockerfile.Entrypoint) {
	args := c.Args
	if c.Shell {
		args = st.withShell(args)
	}
	st.config.Config.Entrypoint = args
	if !st.cmdSet {
		st.config.Config.Cmd = nil // an inherited CMD does not outlive a new ENTRYPOINT
	}
	st.note(fmt.Sprintf("ENTRYPOINT %q", args))
}

func (st *stage) shell(c *dockerfile.Shell) {
	st.config.Config.Shell = c.Args
	st.note(fmt.Sprintf("SHELL %v", c.Args))
}

func (st *stage) stopSignal(c *dockerfile.StopSignal) error {
	if !validSignal(c.Signal) {
		return fmt.Errorf("invalid signal: %s", c.Signal)
	}
	st.config.Config.StopSignal = c.Signal
	st.note("STOPSIGNAL " + c.Signal)
	return nil
}

// validSignal accepts a number or a name with or without "SIG".
func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n > 0 && n <= 64
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if strings.HasPrefix(name, "SIGRTMIN") || strings.HasPrefix(name, "SIGRTMAX") {
		return true
	}
	return unix.SignalNum(name) != 0
}

func (st *stage) healthcheck(c *dockerfile.Healthcheck) {
	hc := &v1.HealthConfig{
		Test: c.Test, Interval: c.Interval, Timeout: c.Timeout,
		StartPeriod: c.StartPeriod, Retries: c.Retries,
	}
	st.config.Config.Healthcheck = hc
	st.startInterval = c.StartInterval
	// Worded as BuildKit words it, from its struct with StartInterval.
	st.note(fmt.Sprintf("HEALTHCHECK %+v", struct {
		Test                                          []string
		Interval, Timeout, StartPeriod, StartInterval time.Duration
		Retries                                       int
	}{hc.Test, hc.Interval, hc.Timeout, hc.StartPeriod, c.StartInterval, hc.Retries}))
}

// onbuild records a trigger; BuildKit adds no history entry for it.
func (st *stage) onbuild(c *dockerfile.Onbuild) {
	st.config.Config.OnBuild = append(st.config.Config.OnBuild, c.Expression)
}

func (st *stage) maintainer(c *dockerfile.Maintainer) {
	st.config.Author = c.Name
	st.note("MAINTAINER " + c.Name)
}
