package build

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestWorkdirAsWritten: an absolute WORKDIR stays as written in the
// config, a relative one is joined and cleaned, scratch says "/", and
// "/a/../b" makes only /b, as in BuildKit (a RUN there makes /a, as runc
// does: pkg/isolation TestRunMakesWorkdirAsWritten).
func TestWorkdirAsWritten(t *testing.T) {
	for _, tt := range []struct {
		df, want string
		dirs     []string
	}{
		{"FROM scratch\n", "/", nil},
		{"FROM scratch\nWORKDIR /srv/app/\n", "/srv/app/", []string{"srv", "srv/app"}},
		{"FROM scratch\nWORKDIR /a/../b/\n", "/a/../b/", []string{"b"}},
		// A relative WORKDIR is cleaned before it is made: no x/y.
		{"FROM scratch\nWORKDIR /x/\nWORKDIR y/../z/\n", "/x/z", []string{"x", "x/z"}},
	} {
		t.Run(tt.want, func(t *testing.T) {
			res := mustBuildIn(t, tt.df, map[string]string{})
			if got := configOf(t, res.Image).Config.WorkingDir; got != tt.want {
				t.Errorf("WorkingDir = %q, want %q", got, tt.want)
			}
			var dirs []string
			for p := range flatten(t, res.Image) {
				dirs = append(dirs, p)
			}
			sort.Strings(dirs)
			if diff := cmp.Diff(tt.dirs, dirs); diff != "" {
				t.Errorf("directories (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	df := `FROM scratch
ENV A=1 B=two
ENV C="$A and $B"
LABEL version=1.0 "with space"="yes"
EXPOSE 80 443/udp
VOLUME /data
VOLUME ["/logs"]
WORKDIR /srv
WORKDIR app
USER 1000:1000
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/
ONBUILD RUN echo child
MAINTAINER someone@example.com
ENTRYPOINT ["/app"]
CMD run --fast
`
	res := mustBuildIn(t, df, map[string]string{}, func(o *Options) { o.Labels = map[string]string{"from-cli": "x"} })
	cf := configOf(t, res.Image)
	want := v1.Config{
		Env:          []string{"PATH=" + defaultPath, "A=1", "B=two", "C=1 and two"},
		Labels:       map[string]string{"version": "1.0", "with space": "yes", "from-cli": "x"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "443/udp": {}},
		Volumes:      map[string]struct{}{"/data": {}, "/logs": {}},
		WorkingDir:   "/srv/app",
		User:         "1000:1000",
		Shell:        []string{"/bin/bash", "-o", "pipefail", "-c"},
		StopSignal:   "SIGINT",
		Healthcheck:  &v1.HealthConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost/"}, Interval: 5 * time.Second, Retries: 3},
		OnBuild:      []string{"RUN echo child"},
		Entrypoint:   []string{"/app"},
		Cmd:          []string{"/bin/bash", "-o", "pipefail", "-c", "run --fast"},
		ArgsEscaped:  true,
	}
	if diff := cmp.Diff(want, cf.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if cf.Author != "someone@example.com" || cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("author %q os %q arch %q", cf.Author, cf.OS, cf.Architecture)
	}
	var history []string
	for _, h := range cf.History {
		mark := ""
		if !h.EmptyLayer {
			mark = " (layer)"
		}
		history = append(history, h.CreatedBy+mark)
	}
	wantHistory := []string{
		"ENV A=1 B=two", "ENV C=1 and two", "LABEL version=1.0 with space=yes",
		"EXPOSE [443/udp 80/tcp]", "VOLUME [/data]", "VOLUME [/logs]", "WORKDIR /srv (layer)", "WORKDIR /srv/app (layer)",
		"USER 1000:1000", "SHELL [/bin/bash -o pipefail -c]", "STOPSIGNAL SIGINT",
		"HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}",
		"MAINTAINER someone@example.com", `ENTRYPOINT ["/app"]`,
		`CMD ["/bin/bash" "-o" "pipefail" "-c" "run --fast"]`,
	}
	if diff := cmp.Diff(wantHistory, history); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if n := len(cf.RootFS.DiffIDs); n != 2 {
		t.Errorf("%d layers, want the two WORKDIR ones", n)
	}
}

func TestEntrypointResetsInheritedCmd(t *testing.T) {
	host := testRegistry(t)
	pushImage(t, host+"/base:1", v1.Config{Cmd: []string{"base-cmd"}}, amd64, layerOf(t, file{name: "f", body: "x"}))
	res := mustBuildIn(t, "FROM "+host+"/base:1\nENTRYPOINT [\"/e\"]\n", map[string]string{}, func(o *Options) { o.Platform = "linux/amd64" })
	if cmd := configOf(t, res.Image).Config.Cmd; cmd != nil {
		t.Errorf("Cmd = %v, want it reset by ENTRYPOINT", cmd)
	}
}

// TestArgs checks ARG and ENV scoping through LABEL, which expands words
// like any instruction but needs no RUN.
func TestArgs(t *testing.T) {
	df := `ARG GLOBAL=g
ARG OVERRIDE=default
ARG FROMENV
FROM scratch AS first
LABEL global-unseen=${GLOBAL:-unset}
ARG GLOBAL
ARG OVERRIDE
ARG LOCAL=local-$GLOBAL
ARG TARGETARCH
LABEL global=$GLOBAL override=$OVERRIDE local=$LOCAL arch=$TARGETARCH
ENV E=env
ARG E=arg-wins
LABEL e=$E alt=${UNSET:+x}${GLOBAL:+set} escaped=\$GLOBAL
FROM first
LABEL inherited=$LOCAL
`
	res := mustBuildIn(t, df, map[string]string{}, func(o *Options) {
		o.BuildArgs = map[string]string{"OVERRIDE": "given", "UNUSED": "1"}
		o.Platform = "linux/arm64"
	})
	cf := configOf(t, res.Image)
	want := map[string]string{
		"global-unseen": "unset", "global": "g", "override": "given", "local": "local-g", "arch": "arm64",
		"e": "arg-wins", "alt": "set", "escaped": "$GLOBAL", "inherited": "local-g",
	}
	if diff := cmp.Diff(want, cf.Config.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	for _, kv := range cf.Config.Env {
		if strings.HasPrefix(kv, "GLOBAL=") || strings.HasPrefix(kv, "LOCAL=") || strings.HasPrefix(kv, "OVERRIDE=") {
			t.Errorf("an ARG was persisted into Env: %s", kv)
		}
	}
	if cf.Architecture != "arm64" {
		t.Errorf("architecture %q, want arm64 from --custom-platform", cf.Architecture)
	}
}

func TestOnbuildTriggers(t *testing.T) {
	host := testRegistry(t)
	pushImage(t, host+"/parent:1", v1.Config{OnBuild: []string{"LABEL from-trigger=yes", "COPY trigger.txt /t"}}, amd64,
		layerOf(t, file{name: "f", body: "x"}))
	df := "FROM " + host + "/parent:1\nLABEL own=yes\nONBUILD LABEL next=gen\n"
	res := mustBuildIn(t, df, map[string]string{"trigger.txt": "T"}, func(o *Options) { o.Platform = "linux/amd64" })
	cf := configOf(t, res.Image)
	if cf.Config.Labels["from-trigger"] != "yes" || cf.Config.Labels["own"] != "yes" {
		t.Errorf("labels %v", cf.Config.Labels)
	}
	if diff := cmp.Diff([]string{"LABEL next=gen"}, cf.Config.OnBuild); diff != "" {
		t.Errorf("OnBuild: the parent's triggers must be consumed (-want +got):\n%s", diff)
	}
	if flatten(t, res.Image)["t"].Body != "T" {
		t.Error("the COPY trigger did not run")
	}
}

func TestStages(t *testing.T) {
	df := `FROM example.invalid/never-pulled:1 AS unused
RUN exit 1
FROM scratch AS base
COPY a /a
ONBUILD COPY b /b
FROM base AS mid
LABEL stage=mid
FROM scratch
COPY --from=mid /a /from-mid
COPY --from=1 /a /from-index
`
	res := mustBuildIn(t, df, map[string]string{"a": "A", "b": "B"})
	fs := flatten(t, res.Image)
	for _, p := range []string{"from-mid", "from-index"} {
		if fs[p].Body != "A" {
			t.Errorf("%s = %+v", p, fs[p])
		}
	}
	if len(fs) != 2 {
		t.Errorf("final stage has %v", fs)
	}
	mid := mustBuildIn(t, df, map[string]string{"a": "A", "b": "B"}, func(o *Options) { o.Target = "mid" })
	mfs := flatten(t, mid.Image)
	if mfs["a"].Body != "A" || mfs["b"].Body != "B" {
		t.Errorf("--target mid: %v (the base stage's ONBUILD must run in mid)", mfs)
	}
	if mid.Target != "mid" {
		t.Errorf("Target = %q", mid.Target)
	}
}

func TestPlatformIndex(t *testing.T) {
	host := testRegistry(t)
	amd := pushImage(t, host+"/multi:amd64", v1.Config{}, amd64, layerOf(t, file{name: "arch", body: "amd64"}))
	arm := pushImage(t, host+"/multi:arm64", v1.Config{}, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, layerOf(t, file{name: "arch", body: "arm64"}))
	pushIndex(t, host+"/multi:latest", amd, arm)
	for _, arch := range []string{"amd64", "arm64"} {
		res := mustBuildIn(t, "FROM "+host+"/multi:latest\nLABEL x=y\n", map[string]string{}, func(o *Options) { o.Platform = "linux/" + arch })
		if got := flatten(t, res.Image)["arch"].Body; got != arch {
			t.Errorf("--custom-platform linux/%s took the %s image", arch, got)
		}
	}
}

// TestLayerDone hears of every layer of the result as it is written, and
// of no layer of a stage the result only copies from.
func TestLayerDone(t *testing.T) {
	df := `FROM scratch AS a
COPY f /f
FROM a AS b
COPY g /g
FROM scratch AS other
COPY h /h
FROM b
COPY --from=other /h /h
`
	var told []v1.Hash
	res := mustBuildIn(t, df, map[string]string{"f": "f", "g": "g", "h": "h"}, func(o *Options) {
		o.LayerDone = func(_ context.Context, l v1.Layer) {
			d, err := l.Digest()
			if err != nil {
				t.Error(err)
			}
			told = append(told, d)
		}
	})
	ls, err := res.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var want []v1.Hash
	for _, l := range ls {
		d, _ := l.Digest()
		want = append(want, d)
	}
	if diff := cmp.Diff(want, told); diff != "" {
		t.Errorf("layers told (-the result's +told):\n%s", diff)
	}
}

// TestAnnotations puts Options.Annotations on the result's manifest, in
// an image that stays valid.
func TestAnnotations(t *testing.T) {
	res := mustBuildIn(t, "FROM scratch\nLABEL a=b\n", map[string]string{}, func(o *Options) {
		o.Annotations = map[string]string{"org.opencontainers.image.source": "https://example.com/repo", "team": "builders"}
	})
	m, err := res.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations["team"] != "builders" || m.Annotations["org.opencontainers.image.source"] != "https://example.com/repo" {
		t.Errorf("manifest annotations = %v", m.Annotations)
	}
	if err := validate.Image(res.Image); err != nil {
		t.Errorf("the annotated image is not valid: %v", err)
	}
}
