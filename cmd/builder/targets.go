package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/push"
)

// applyTargets reads the --target values: NAME, or NAME=DEST[,DEST...].
// The first is the build's target; its destinations join --destination.
// The others are built beside it (as the kaniko fork does: the first
// target is the one pushed), each pushed to the destinations it names.
func (f *buildFlags) applyTargets(bo *build.Options) error {
	f.extraPushes = map[string][]string{}
	for i, t := range f.targets {
		name, dests, named := strings.Cut(t, "=")
		if name == "" || named && dests == "" {
			return fmt.Errorf("--target %s: want NAME or NAME=DEST[,DEST...]", t)
		}
		var list []string
		if named {
			list = strings.Split(dests, ",")
		}
		if i == 0 {
			bo.Target = name
			f.destinations = append(f.destinations, list...)
			continue
		}
		bo.ExtraTargets = append(bo.ExtraTargets, name)
		key := strings.ToLower(name)
		f.extraPushes[key] = append(f.extraPushes[key], list...)
	}
	return nil
}

// pushExtra pushes the extra targets' images to their destinations and
// returns "repo@digest" for each.
func (f *buildFlags) pushExtra(ctx context.Context, res *build.Result, po push.Options, progress io.Writer) ([]string, error) {
	var names []string
	for _, e := range res.Extra {
		dests := f.extraPushes[strings.ToLower(e.Stage)]
		if len(dests) == 0 || po.NoPush {
			continue
		}
		o := push.Options{Destinations: dests, Registry: po.Registry, Retries: po.Retries, RetryWait: po.RetryWait, Progress: progress, Pushed: po.Pushed}
		n, err := push.Publish(ctx, e.Image, o)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", e.Stage, err)
		}
		names = append(names, n...)
	}
	return names, nil
}
