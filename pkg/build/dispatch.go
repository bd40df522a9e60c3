package build

import (
	"context"
	"fmt"
	"time"

	"github.com/buildcrew/builder/pkg/dockerfile"
)

// dispatch expands one step against the variables in scope and executes it.
func (b *builder) dispatch(ctx context.Context, st *stage, step *dockerfile.Step) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if step.Keyword != "RUN" {
		// Only a RUN leaves the root alone while the last one's layer
		// is written (see pendingLayer); its merge settles it.
		if err := b.settle(st); err != nil {
			return err
		}
	}
	ins, unset, err := step.ExpandUnset(st.vars)
	if err != nil {
		return err
	}
	// An ARG's words are not expanded here (unset is empty): it checks
	// its defaults as it takes them (see argUnset).
	ws := append(b.lint.Dispatched(step, ins, st.config.Config.Shell), b.lint.Unset(step, unset, st.declared(), st.vars.Keys())...)
	if c, ok := ins.(*dockerfile.Copy); ok {
		ws = append(ws, b.ignoredSources(step, c)...)
	}
	if err := b.warnLint(ws); err != nil {
		return err
	}
	var v *vertex
	switch step.Keyword {
	case "RUN", "COPY", "ADD", "WORKDIR":
		st.step++
		if !b.checking {
			v = b.prog.vertex(fmt.Sprintf("[%s%d/%d] %s", st.prefix, st.step, st.total, step))
		}
	}
	start := time.Now()
	var cached bool
	if b.checking {
		err = b.metaOnly(ctx, st, ins)
	} else {
		cached, err = b.step(ctx, st, ins, v)
	}
	st.located(step)
	if unset := st.argUnset; err == nil && len(unset) > 0 {
		st.argUnset = nil
		err = b.warnLint(b.lint.Unset(step, unset, nil, st.vars.Keys()))
	}
	if err == nil {
		err = st.checkSize()
	}
	err = step.Wrap(err)
	if err == nil {
		// The bench reads RUN's whole cost per step from this record.
		b.opts.Logger.Debug("step finished", "stage", st.def.DisplayName(), "instruction", step.Keyword,
			"cached", cached, "took", time.Since(start))
	}
	if v != nil {
		switch {
		case err != nil && ctx.Err() != nil:
			v.canceled() // the build's error says why, once
		case err != nil:
			v.fail(err)
		case cached:
			v.cached()
		default:
			v.done()
		}
	}
	return err
}

// execute is the one place that knows every instruction.
func (b *builder) execute(ctx context.Context, st *stage, ins dockerfile.Instruction, v *vertex) error {
	switch c := ins.(type) {
	case *dockerfile.Run:
		return b.run(ctx, st, c, v)
	case *dockerfile.Copy:
		return b.copy(ctx, st, c)
	case *dockerfile.Workdir:
		return b.workdir(ctx, st, c)
	case *dockerfile.Arg:
		return b.arg(st, c)
	case *dockerfile.Env:
		st.env(c)
	case *dockerfile.User:
		st.user(c)
	case *dockerfile.Label:
		st.label(c)
	case *dockerfile.Expose:
		st.expose(c)
	case *dockerfile.Volume:
		return st.volume(c)
	case *dockerfile.Cmd:
		st.cmd(c)
	case *dockerfile.Entrypoint:
		st.entrypoint(c)
	case *dockerfile.Shell:
		st.shell(c)
	case *dockerfile.StopSignal:
		return st.stopSignal(c)
	case *dockerfile.Healthcheck:
		st.healthcheck(c)
	case *dockerfile.Onbuild:
		st.onbuild(c)
	case *dockerfile.Maintainer:
		st.maintainer(c)
	default:
		return fmt.Errorf("unsupported instruction %T", ins)
	}
	return nil
}

// warnLint says the warnings BuildKit's checks found while the build ran;
// the error is the build's end when the file asks checks to fail it.
func (b *builder) warnLint(ws []dockerfile.Warning) error {
	if len(ws) == 0 || b.checking {
		return nil // a check says them all at its end
	}
	for _, w := range ws {
		b.warn("%s", w)
	}
	return b.lint.Err()
}
