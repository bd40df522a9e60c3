package main

import (
	"context"

	"github.com/buildcrew/builder/pkg/push"
)

// pushCheck asks the destinations whether the credentials may push
// there while the build starts: the answer takes round trips to each
// registry (a token, an upload started and cancelled), which the pulls
// and the unpacking of the bases need not wait for. The build waits for
// it before its first RUN command (build.Options.BeforeRun), so a refusal
// still stops it before any command runs.
type pushCheck struct {
	done chan struct{}
	err  error
}

// startPushCheck asks the destinations of po, then those of each extra
// push, in the background.
func startPushCheck(po push.Options, extra map[string][]string) *pushCheck {
	c := &pushCheck{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if c.err = push.CheckDestinations(po); c.err != nil {
			return
		}
		for _, dests := range extra {
			if c.err = push.CheckDestinations(push.Options{Destinations: dests, NoPush: po.NoPush, Registry: po.Registry}); c.err != nil {
				return
			}
		}
	}()
	return c
}

// wait returns the answer, waiting for it.
func (c *pushCheck) wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// refusal is the error to report after a build that ended with err: the
// destinations' refusal, which also fails the build's first RUN, waited
// for if the build succeeded (a build without RUN did not ask); nil when
// they accept, when nothing was asked (c is nil), or when the build failed
// before the answer came (its own error tells more).
func (c *pushCheck) refusal(buildErr error) error {
	if c == nil {
		return nil
	}
	if buildErr != nil {
		select {
		case <-c.done:
			return c.err
		default:
			return nil
		}
	}
	<-c.done
	return c.err
}
