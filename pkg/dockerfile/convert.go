package dockerfile

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// convert maps one of BuildKit's typed commands onto this package's model.
func convert(cmd instructions.Command) (Instruction, error) {
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return convertRun(c), nil
	case *instructions.CopyCommand:
		return &Copy{
			Sources: c.SourcePaths, Inline: inlineFiles(c.SourceContents), Dest: c.DestPath,
			From: c.From, Chown: c.Chown, Chmod: c.Chmod, Link: c.Link,
			Excludes: c.ExcludePatterns, Parents: c.Parents,
		}, nil
	case *instructions.AddCommand:
		if c.KeepGitDir != nil {
			return nil, fmt.Errorf("ADD --keep-git-dir: git sources are not supported")
		}
		return &Copy{
			Add: true, Sources: c.SourcePaths, Inline: inlineFiles(c.SourceContents), Dest: c.DestPath,
			Chown: c.Chown, Chmod: c.Chmod, Link: c.Link, Excludes: c.ExcludePatterns,
			Checksum: c.Checksum, Unpack: c.Unpack,
		}, nil
	case *instructions.EnvCommand:
		return &Env{Vars: keyValues(c.Env)}, nil
	case *instructions.ArgCommand:
		a := &Arg{}
		for _, kv := range c.Args {
			a.Args = append(a.Args, ArgDecl{Key: kv.Key, Value: kv.Value})
		}
		return a, nil
	case *instructions.WorkdirCommand:
		return &Workdir{Path: c.Path}, nil
	case *instructions.UserCommand:
		return &User{User: c.User}, nil
	case *instructions.LabelCommand:
		return &Label{Labels: keyValues(c.Labels)}, nil
	case *instructions.ExposeCommand:
		return &Expose{Ports: c.Ports}, nil
	case *instructions.VolumeCommand:
		return &Volume{Paths: c.Volumes}, nil
	case *instructions.CmdCommand:
		return &Cmd{Args: c.CmdLine, Shell: c.PrependShell}, nil
	case *instructions.EntrypointCommand:
		return &Entrypoint{Args: c.CmdLine, Shell: c.PrependShell}, nil
	case *instructions.ShellCommand:
		return &Shell{Args: c.Shell}, nil
	case *instructions.StopSignalCommand:
		return &StopSignal{Signal: c.Signal}, nil
	case *instructions.HealthCheckCommand:
		h := c.Health
		return &Healthcheck{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}, nil
	case *instructions.OnbuildCommand:
		return &Onbuild{Expression: c.Expression}, nil
	case *instructions.MaintainerCommand:
		return &Maintainer{Name: c.Maintainer}, nil
	}
	return nil, fmt.Errorf("unsupported instruction %s", strings.ToUpper(cmd.Name()))
}

func convertRun(c *instructions.RunCommand) *Run {
	r := &Run{
		Args:     c.CmdLine,
		Shell:    c.PrependShell,
		Network:  instructions.GetNetwork(c),
		Security: instructions.GetSecurity(c),
	}
	for _, f := range c.Files {
		r.Heredocs = append(r.Heredocs, Heredoc{Name: f.Name, Data: f.Data, Chomp: f.Chomp})
	}
	for _, m := range instructions.GetMounts(c) {
		mt := Mount{
			Type: string(m.Type), From: m.From, Source: m.Source, Target: m.Target,
			ReadOnly: m.ReadOnly, ID: m.CacheID, Sharing: string(m.CacheSharing),
			Required: m.Required, Mode: m.Mode, UID: m.UID, GID: m.GID,
		}
		if m.Env != nil {
			mt.Env = *m.Env
		}
		r.Mounts = append(r.Mounts, mt)
	}
	return r
}

func keyValues(kvs instructions.KeyValuePairs) []KeyValue {
	out := make([]KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, KeyValue{Key: kv.Key, Value: kv.Value})
	}
	return out
}

func inlineFiles(srcs []instructions.SourceContent) []InlineFile {
	var out []InlineFile
	for _, s := range srcs {
		out = append(out, InlineFile{Name: s.Path, Data: s.Data})
	}
	return out
}
