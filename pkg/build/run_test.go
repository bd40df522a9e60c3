package build

import (
	"archive/tar"
	"bytes"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/isolation"
)

// busybox pushes a busybox base image to an in-memory registry.
func busybox(t *testing.T, extra ...file) string {
	t.Helper()
	needRoot(t)
	host := testRegistry(t)
	ref := host + "/busybox:1"
	ls := []v1.Layer{busyboxLayer(t)}
	if len(extra) > 0 {
		ls = append(ls, layerOf(t, extra...))
	}
	pushImage(t, ref, v1.Config{Env: []string{"PATH=/bin"}}, amd64, ls...)
	return ref
}

func amd(o *Options) { o.Platform = "linux/amd64" }

// TestRunChanges checks the layers RUN makes, both ways of finding what
// a step changed: the overlay's upper directory and the metadata walk.
func TestRunChanges(t *testing.T) {
	for _, mode := range []struct {
		name      string
		noOverlay bool
	}{{"overlay", false}, {"walk", true}} {
		t.Run(mode.name, func(t *testing.T) { testRunChanges(t, mode.noOverlay) })
	}
}

func testRunChanges(t *testing.T, noOverlay bool) {
	base := busybox(t,
		file{name: "data/"}, file{name: "data/keep", body: "k"}, file{name: "data/old/"}, file{name: "data/old/a", body: "a"},
		file{name: "swap", body: "file"}, file{name: "gone/"}, file{name: "gone/deep/"}, file{name: "gone/deep/f", body: "f"},
		file{name: "lower", body: "L"},
	)
	df := "FROM " + base + `
RUN rm -rf /gone /data/old && mkdir /data/old && echo b > /data/old/b
RUN rm /swap && mkdir /swap && echo s > /swap/inside
RUN ln /lower /hard && ln -s /lower /soft && chmod 4755 /lower
RUN echo recreated > /lower.new && rm /data/keep && echo again > /data/keep
RUN true
`
	var log bytes.Buffer
	res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
		o.NoOverlay = noOverlay
	}, debugTo(&log))
	if used := strings.Contains(log.String(), "overlay=true"); used == noOverlay {
		if !noOverlay && strings.Contains(log.String(), "no overlayfs") {
			t.Skip("overlayfs is not available here")
		}
		t.Fatalf("overlay used: %v, want %v", used, !noOverlay)
	}
	got := layerNames(t, res.Image, 2)
	want := [][]string{
		{"data/", "data/old/", "data/old/.wh.a", "data/old/b", ".wh.gone"}, // explicit whiteouts, as BuildKit
		{"swap/", "swap/inside"},
		{"hard", "lower", "soft"},
		{"data/", "data/keep", "lower.new"},
	}
	for i := range want {
		if i >= len(got) {
			break
		}
		if diff := cmp.Diff(sorted(want[i]), sorted(got[i])); diff != "" {
			t.Errorf("layer of RUN %d (-want +got):\n%s", i+1, diff)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d layers, want %d: RUN true changes nothing and adds none", len(got), len(want))
	}
	fs := flatten(t, res.Image)
	for _, p := range []string{"gone", "gone/deep/f", "data/old/a"} {
		if _, ok := fs[p]; ok {
			t.Errorf("%s came back", p)
		}
	}
	if fs["data/old/b"].Body != "b\n" || fs["swap/inside"].Body != "s\n" || fs["data/keep"].Body != "again\n" {
		t.Errorf("contents: %+v %+v %+v", fs["data/old/b"], fs["swap/inside"], fs["data/keep"])
	}
	if fs["lower"].Mode != 0o4755 || fs["soft"].Link != "/lower" {
		t.Errorf("lower %+v soft %+v", fs["lower"], fs["soft"])
	}
	if fs["hard"].Type != tar.TypeLink && fs["hard"].Body != "L" {
		t.Errorf("hard %+v", fs["hard"])
	}
	cf := configOf(t, res.Image)
	last := cf.History[len(cf.History)-1]
	if !last.EmptyLayer || last.CreatedBy != "RUN /bin/sh -c true" {
		t.Errorf("last history entry %+v", last)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestRunEnvironment(t *testing.T) {
	base := busybox(t)
	df := "FROM " + base + `
ARG A=from-arg
ENV E=from-env
USER app:staff
WORKDIR /home/app
RUN echo "A=$A E=$E HOME=$HOME PROXY=$http_proxy uid=$(id -u) gid=$(id -g) groups=$(id -G) pwd=$(pwd)" > out && touch mine
USER root
RUN ["/bin/sh", "-c", "echo exec form >> /home/app/out"]
SHELL ["/bin/sh", "-e", "-c"]
RUN echo shell $0 >> /home/app/out
RUN <<EOF
echo heredoc >> /home/app/out
EOF
RUN <<EOF
#!/bin/sh
echo script $0 >> /home/app/out
EOF
RUN --network=none ls /sys/class/net >> /home/app/out
`
	res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
		o.BuildArgs = map[string]string{"http_proxy": "http://proxy:3128"}
	})
	fs := flatten(t, res.Image)
	out := fs["home/app/out"].Body
	for _, want := range []string{
		"A=from-arg E=from-env HOME=/home/app PROXY=http://proxy:3128 uid=1000 gid=50 groups=50 pwd=/home/app\n",
		"exec form\n", "shell /bin/sh\n", "heredoc\n", "script /dev/pipes/EOF\n", "lo\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("out lacks %q:\n%s", want, out)
		}
	}
	if e := fs["home/app/mine"]; e.UID != 1000 || e.GID != 50 {
		t.Errorf("a file RUN made after USER belongs to %d:%d, want 1000:50", e.UID, e.GID)
	}
	if e := fs["home/app"]; e.UID != 1000 || e.GID != 50 {
		t.Errorf("WORKDIR after USER made /home/app %d:%d, want 1000:50", e.UID, e.GID)
	}
	cf := configOf(t, res.Image)
	for _, h := range cf.History {
		if strings.Contains(h.CreatedBy, "proxy:3128") {
			t.Errorf("a proxy build arg is in the history: %s", h.CreatedBy)
		}
	}
	var runs []string
	for _, h := range cf.History {
		if strings.HasPrefix(h.CreatedBy, "RUN") {
			runs = append(runs, h.CreatedBy)
		}
	}
	if len(runs) == 0 || !strings.HasPrefix(runs[0], "RUN |1 A=from-arg /bin/sh -c echo") {
		t.Errorf("RUN history %q, want BuildKit's |N form", runs)
	}
	for _, p := range []string{"etc/resolv.conf", "etc/hosts", "proc", "dev", "sys", "dev/pipes"} {
		if _, ok := fs[p]; ok {
			t.Errorf("%s leaked into the image", p)
		}
	}
}

func TestRunFailure(t *testing.T) {
	base := busybox(t)
	var progress bytes.Buffer
	_, err := buildIn(t, "FROM "+base+"\nRUN echo before-failing\nRUN echo oops && exit 7\n", map[string]string{}, amd,
		func(o *Options) { o.Progress = &progress })
	var ee *isolation.ExitError
	if !errors.As(err, &ee) || ee.Code != 7 {
		t.Fatalf("err = %v, want exit status 7", err)
	}
	if want := "Dockerfile:3: RUN echo oops && exit 7: exit status 7"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	for _, want := range []string{"[3/3] RUN echo oops && exit 7\n", "oops\n", "ERROR: Dockerfile:3", " > [3/3] RUN echo oops && exit 7:\noops\n"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	_, err = buildIn(t, "FROM "+base+"\nUSER ghost\nRUN true\n", map[string]string{}, amd)
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:3: RUN true: unable to find user ghost") {
		t.Errorf("unknown USER: err = %v", err)
	}
}

func TestRunCapabilityAndCopyFrom(t *testing.T) {
	// A file capability set in the base survives a RUN and a COPY --from
	// into another stage; a hardlink made by RUN stays a hardlink.
	capValue := "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" // cap_net_bind_service=ep
	base := busybox(t, file{name: "usr/"}, file{name: "usr/bin/"},
		file{name: "usr/bin/ping", body: "ping", mode: 0o755, xattrs: map[string]string{"security.capability": capValue}})
	df := "FROM " + base + ` AS tools
RUN touch /marker && ln /usr/bin/ping /usr/bin/ping-hard
FROM scratch
COPY --from=tools /usr/bin/ /out/
`
	res := mustBuildIn(t, df, map[string]string{}, amd)
	fs := flatten(t, res.Image)
	if fs["out/ping"].Xattrs["security.capability"] != capValue {
		t.Errorf("the capability was lost: %+v", fs["out/ping"].Xattrs)
	}
	ls, _ := res.Image.Layers()
	rc, _ := ls[0].Uncompressed()
	defer rc.Close()
	tr := tar.NewReader(rc)
	links := map[string]string{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag == tar.TypeLink {
			links[h.Name] = h.Linkname
		}
	}
	if diff := cmp.Diff(map[string]string{"out/ping-hard": "out/ping"}, links); diff != "" {
		t.Errorf("hardlinks in the COPY --from layer (-want +got):\n%s", diff)
	}
}

// TestRunGroups gives a step the groups BuildKit gives it (observed with
// BuildKit v0.34.2 on the same /etc/group): the user's groups plus its
// primary group, or an explicit group alone. The base's /etc/group has
// app:x:1000: and staff:x:50:app.
func TestRunGroups(t *testing.T) {
	base := busybox(t)
	df := "FROM " + base + `
RUN echo 'staff2:x:51:app' >> /etc/group && echo 'other:x:60:app,x' >> /etc/group && mkdir -m 777 /o
USER app
RUN busybox grep Groups /proc/self/status > /o/app
USER app:app
RUN busybox grep Groups /proc/self/status > /o/app-app
USER 1000:1000
RUN busybox grep Groups /proc/self/status > /o/num-num
USER 1000
RUN busybox grep Groups /proc/self/status > /o/num
USER 1000:51
RUN busybox grep Groups /proc/self/status > /o/num-51
USER root
RUN busybox grep Groups /proc/self/status > /o/root
`
	fs := flatten(t, mustBuildIn(t, df, map[string]string{}, amd).Image)
	want := map[string]string{"app": "50 51 60 1000", "app-app": "1000", "num-num": "1000", "num": "50 51 60 1000", "num-51": "51", "root": "0"}
	got := map[string]string{}
	for k := range want {
		got[k] = strings.TrimSpace(strings.TrimPrefix(fs["o/"+k].Body, "Groups:"))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-BuildKit +ours):\n%s", diff)
	}
}

// TestProvisionRow: making a stage's root is a progress row of its own,
// with its own time, not only part of the step that first needs the files.
func TestProvisionRow(t *testing.T) {
	base := busybox(t)
	var progress bytes.Buffer
	mustBuildIn(t, "FROM "+base+" AS app\nRUN true\nFROM app\nRUN true\n", map[string]string{}, amd, func(o *Options) { o.Progress = &progress })
	out := progress.String()
	// The second stage's root is cloned from the first's where overlayfs
	// allows it, else unpacked.
	for _, row := range []string{"[app internal] unpacking the root filesystem (1 layer)", "[stage-1 internal] "} {
		i := strings.Index(out, row)
		if i < 0 {
			t.Errorf("no row %q:\n%s", row, out)
			continue
		}
		id := out[strings.LastIndex(out[:i], "#"):i]
		if !strings.Contains(out[i:], id+"DONE") {
			t.Errorf("row %q (%s) never ends:\n%s", row, id, out)
		}
	}
}
