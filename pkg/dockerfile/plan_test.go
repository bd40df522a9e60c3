package dockerfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGlobals(t *testing.T) {
	df := mustParse(t, `ARG REG=docker.io
ARG IMG=$REG/library/busybox
ARG TAG
ARG OVERRIDDEN=default
FROM $IMG:${TAG:-latest}
`)
	auto := PlatformArgs(Platform{OS: "linux", Architecture: "amd64"}, Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, "", nil)
	g, err := df.Globals(auto, map[string]string{"OVERRIDDEN": "given"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"IMG": "docker.io/library/busybox", "OVERRIDDEN": "given",
		"TARGETPLATFORM": "linux/arm64/v8", "BUILDARCH": "amd64", "TARGETVARIANT": "v8", "TARGETSTAGE": "default",
	} {
		if got, _ := g.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, ok := g.Get("TAG"); ok {
		t.Error("TAG without a default or build arg is set")
	}
	p, err := df.Plan("", g)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Base{Kind: BaseImage, Image: "docker.io/library/busybox:latest"}, p.Bases[0]); diff != "" {
		t.Errorf("base (-want +got):\n%s", diff)
	}
}

func TestPlan(t *testing.T) {
	df := mustParse(t, `FROM busybox AS base
FROM base AS build
COPY --from=tools /bin/x /x
FROM alpine AS tools
FROM busybox AS unused
RUN exit 1
FROM scratch
COPY --from=build /x /x
COPY --from=0 /etc/passwd /p
COPY --from=example.com/img:1 /y /y
`)
	_, err := df.Plan("", &Vars{})
	if err == nil || !strings.Contains(err.Error(), "needs to be defined before") {
		t.Fatalf("COPY --from a later stage: err = %v", err)
	}

	df = mustParse(t, `FROM busybox AS base
FROM 0 AS build
RUN make
FROM busybox AS unused
RUN exit 1
FROM scratch
COPY --from=build /x /x
COPY --from=0 /etc/passwd /p
COPY --from=example.com/img:1 /y /y
`)
	p, err := df.Plan("", &Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 1, 3}, p.Needed); diff != "" {
		t.Errorf("needed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Base{Kind: BaseStage, Stage: 0}, p.Bases[1]); diff != "" {
		t.Errorf("base of build (-want +got):\n%s", diff)
	}
	if p.Bases[3].Kind != BaseScratch {
		t.Errorf("base of last = %+v", p.Bases[3])
	}
	p, err = df.Plan("BUILD", &Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 1}, p.Needed); diff != "" {
		t.Errorf("needed for --target build (-want +got):\n%s", diff)
	}
	if _, err := df.Plan("nope", &Vars{}); err == nil || !strings.Contains(err.Error(), `target stage "nope" could not be found`) {
		t.Errorf("unknown target: err = %v", err)
	}
}

// TestPlanDuplicateNames: where stage names repeat, FROM takes the latest
// stage so named before it, COPY --from and --target the file's last (a
// COPY before that last one is refused), as BuildKit does.
func TestPlanDuplicateNames(t *testing.T) {
	df := mustParse(t, `FROM busybox AS a
FROM alpine AS A
FROM a AS b
COPY --from=a /x /x
FROM scratch AS a
FROM scratch
COPY --from=a /y /y
`)
	_, err := df.Plan("", &Vars{})
	if err == nil || !strings.Contains(err.Error(), `cannot copy from stage "a", it needs to be defined before the current stage "b"`) {
		t.Fatalf("COPY --from a name a later stage takes: err = %v", err)
	}
	df = mustParse(t, `FROM busybox AS a
FROM alpine AS A
FROM a AS b
FROM scratch AS a
FROM scratch
COPY --from=a /y /y
`)
	p, err := df.Plan("", &Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Base{Kind: BaseStage, Stage: 1}, p.Bases[2]); diff != "" {
		t.Errorf("FROM a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 4}, p.Needed); diff != "" {
		t.Errorf("needed (-want +got):\n%s", diff)
	}
	if p, err = df.Plan("a", &Vars{}); err != nil || p.Target != 3 {
		t.Errorf("--target a: %v, %v", p, err)
	}
}

// TestPlanMountFroms: RUN --mount from= a stage needs that stage, as
// COPY --from does; a mount from a later stage is refused.
func TestPlanMountFroms(t *testing.T) {
	df := mustParse(t, `FROM busybox AS seed
FROM busybox AS tools
FROM busybox AS unused
FROM busybox
RUN --mount=type=cache,target=/c,from=seed --mount=type=bind,from=tools,target=/t --mount=type=tmpfs,target=/x true
`)
	p, err := df.Plan("", &Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 1, 3}, p.Needed); diff != "" {
		t.Errorf("needed (-want +got):\n%s", diff)
	}
	df = mustParse(t, "FROM busybox\nRUN --mount=type=bind,from=later,target=/t true\nFROM busybox AS later\n")
	if _, err := df.Plan("0", &Vars{}); err == nil || !strings.Contains(err.Error(), "needs to be defined before") {
		t.Errorf("a mount from a later stage: err = %v", err)
	}
}

func TestResolveFromErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"variable", "FROM a\nCOPY --from=$X /a /b\n", "variable expansion is not supported for --from"},
		{"bad index", "FROM a\nCOPY --from=5 /a /b\n", "invalid stage index 5"},
		{"self index", "FROM a\nCOPY --from=0 /a /b\n", "needs to be defined before"},
		{"blank base", "ARG B\nFROM $B\n", "should not be blank"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df := mustParse(t, tt.src)
			_, err := df.Plan("", &Vars{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "Dockerfile:") {
				t.Errorf("err %q has no location", err)
			}
		})
	}
}
