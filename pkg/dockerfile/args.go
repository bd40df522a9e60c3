package dockerfile

import (
	"slices"
)

// Platform names an OS and CPU architecture, as in "linux/arm64/v8".
type Platform struct {
	OS, Architecture, Variant string
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// PlatformArgs returns the ARGs BuildKit defines for every build
// (BUILDPLATFORM, TARGETARCH, ...). A build arg of the same name overrides
// each. They are global: a stage sees them only after redeclaring them.
func PlatformArgs(build, target Platform, targetStage string, buildArgs map[string]string) *Vars {
	if targetStage == "" {
		targetStage = "default"
	}
	v := &Vars{}
	for _, kv := range [...][2]string{
		{"BUILDPLATFORM", build.String()},
		{"BUILDOS", build.OS},
		{"BUILDOSVERSION", ""},
		{"BUILDARCH", build.Architecture},
		{"BUILDVARIANT", build.Variant},
		{"TARGETPLATFORM", target.String()},
		{"TARGETOS", target.OS},
		{"TARGETOSVERSION", ""},
		{"TARGETARCH", target.Architecture},
		{"TARGETVARIANT", target.Variant},
		{"TARGETSTAGE", targetStage},
	} {
		val := kv[1]
		if o, ok := buildArgs[kv[0]]; ok {
			val = o
		}
		v.Set(kv[0], val)
	}
	return v
}

// Globals evaluates the ARGs declared before the first FROM on top of the
// automatic ones: a build arg wins, otherwise the default is expanded against
// the globals declared before it; an ARG with neither stays unset.
func (df *Dockerfile) Globals(auto *Vars, buildArgs map[string]string) (*Vars, error) {
	g := auto.Clone()
	for _, step := range df.MetaArgs {
		ins, err := step.Expand(nil)
		if err != nil {
			return nil, err
		}
		for _, a := range ins.(*Arg).Args {
			if v, ok := buildArgs[a.Key]; ok {
				g.Set(a.Key, v)
				continue
			}
			if a.Value == nil {
				continue
			}
			v, err := df.Word(*a.Value, g)
			if err != nil {
				return nil, step.Wrap(err)
			}
			g.Set(a.Key, v)
		}
	}
	return g, nil
}

// proxyArgs are the build args BuildKit passes to RUN without a declaration
// and keeps out of the image's history.
var proxyArgs = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}

// ProxyEnv returns the proxy settings among the build args, as "KEY=VALUE".
func ProxyEnv(buildArgs map[string]string) []string {
	var out []string
	for _, k := range proxyArgs {
		if v, ok := buildArgs[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// IsProxyArg reports whether key is one of the predefined proxy args.
func IsProxyArg(key string) bool {
	return slices.Contains(proxyArgs, key)
}
