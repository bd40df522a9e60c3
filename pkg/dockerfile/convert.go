package dockerfile

import (
	"fmt"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
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
		return &Copy{
			Add: true, Sources: c.SourcePaths, Inline: inlineFiles(c.SourceContents), Dest: c.DestPath,
			Chown: c.Chown, Chmod: c.Chmod, Link: c.Link, Excludes: c.ExcludePatterns,
			Checksum: c.Checksum, Unpack: c.Unpack, KeepGitDir: c.KeepGitDir != nil && *c.KeepGitDir,
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
	foldHeredocs(r, c)
	for _, d := range instructions.GetDevices(c) {
		r.Devices = append(r.Devices, d.Name)
	}
	for _, m := range instructions.GetMounts(c) {
		mt := Mount{
			Type: string(m.Type), From: m.From, Source: m.Source, Target: m.Target,
			ReadOnly: m.ReadOnly, ID: m.CacheID, Sharing: string(m.CacheSharing),
			Required: m.Required, Mode: m.Mode, UID: m.UID, GID: m.GID, Size: m.SizeLimit,
		}
		if m.Env != nil {
			mt.Env = *m.Env
		}
		r.Mounts = append(r.Mounts, mt)
	}
	return r
}

// foldHeredocs applies RUN's here-documents the way BuildKit does.
func foldHeredocs(r *Run, c *instructions.RunCommand) {
	if len(c.Files) == 0 {
		return
	}
	if len(r.Args) == 1 && r.Shell && parser.MustParseHeredoc(r.Args[0]) != nil {
		f := c.Files[0]
		data := f.Data
		if f.Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			// The shell runs the script's path, as in BuildKit (its
			// history says "RUN /bin/sh -c /dev/pipes/EOF").
			r.Script = &InlineFile{Name: f.Name, Data: data}
			r.Args = []string{path.Join(ScriptDir, f.Name)}
			return
		}
		r.Args = []string{data}
		return
	}
	var b strings.Builder
	b.WriteString(r.Args[0])
	for _, f := range c.Files {
		b.WriteByte('\n')
		b.WriteString(f.Data)
		b.WriteString(f.Name)
	}
	r.Args = []string{b.String()}
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
