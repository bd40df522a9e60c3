package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// caseFiles are the files of a case directory that are not its context.
var caseFiles = map[string]bool{"setup": true, "expect": true, "options": true}

// runCase builds one case with this builder and every reference and
// compares the results.
func runCase(t *testing.T, c *conformanceCase, refs []*reference) {
	ctxDir := prepareContext(t, c)
	args := []string{"--build-arg", "BUSYBOX=" + env.busybox}
	if c.debian {
		args = append(args, "--build-arg", "DEBIAN="+debianBase(t))
	}
	args = append(args, c.args...)
	ours := env.registry + "/conformance/" + c.name + ":ours"
	r := runBuilder(t, ctxDir, nil, append([]string{"--context", ctxDir, "--destination", ours}, args...)...)
	if c.wantErr != "" {
		if r.code == 0 || !strings.Contains(r.stderr, c.wantErr) {
			t.Fatalf("exit %d, want a failure saying %q:\n%s", r.code, c.wantErr, tail(r.stderr, 20))
		}
		// A reference must refuse it too.
		for _, ref := range refs {
			if why, ok := c.skip[ref.name]; ok {
				t.Logf("%s not asked: %s", ref.name, why)
				continue
			}
			if _, err := ref.push(t.Context(), ctxDir, env.registry+"/conformance/"+c.name+":"+ref.name, args); err == nil {
				t.Errorf("%s builds what this builder refuses", ref.name)
			}
		}
		return
	}
	if r.code != 0 {
		t.Fatalf("builder: exit %d\n%s", r.code, tail(r.stderr, 30))
	}
	o := fetch(t, ours)
	for _, e := range c.expect {
		if err := o.check(e); err != nil {
			t.Errorf("expect %s: %v", strings.Join(e, " "), err)
		}
	}
	for _, ref := range refs {
		if why, ok := c.skip[ref.name]; ok {
			t.Logf("%s not compared: %s", ref.name, why)
			continue
		}
		theirs := env.registry + "/conformance/" + c.name + ":" + ref.name
		out, err := ref.push(t.Context(), ctxDir, theirs, args)
		if err != nil {
			t.Errorf("%s: %v", ref.name, err)
			continue
		}
		if ref.name == "buildkit" {
			compareWarnings(t, r.stderr, out, func() (string, error) {
				df, err := os.ReadFile(filepath.Join(ctxDir, "Dockerfile"))
				if err != nil {
					return "", err
				}
				return ref.push(t.Context(), ctxDir, theirs+"-check", append(slices.Clone(args), "--build-arg", "BUILDKIT_DOCKERFILE_CHECK="+failOnWarnings(df, args)))
			})
		}
		compareImages(t, c.name, o, fetch(t, theirs), ref)
		if ref.lint != nil {
			compareChecks(t, ctxDir, args, ref)
		}
	}
}

// prepareContext copies the case into a temporary context and applies its
// setup: modes, times, links and archives that git cannot carry.
func prepareContext(t *testing.T, c *conformanceCase) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if caseFiles[e.Name()] {
			continue
		}
		run(t, "cp", "-a", filepath.Join(c.dir, e.Name()), dir)
	}
	for _, s := range c.setup {
		if err := applySetup(dir, s); err != nil {
			t.Fatalf("setup %s: %v", strings.Join(s, " "), err)
		}
	}
	df := filepath.Join(dir, "Dockerfile")
	data, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.NewReplacer("{{BUSYBOX}}", env.busybox, "{{REGISTRY}}", env.registry,
		"{{HTTP}}", files.url, "{{FILE_SHA}}", files.fileSHA, "{{FILE_SHA512}}", files.fileSHA512).Replace(string(data)))
	if err := os.WriteFile(df, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func applySetup(dir string, s []string) error {
	p := func(i int) string { return filepath.Join(dir, s[i]) }
	switch {
	case s[0] == "write" && len(s) == 3:
		if err := os.MkdirAll(filepath.Dir(p(1)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p(1), []byte(s[2]), 0o644)
	case s[0] == "mkdir" && len(s) == 2:
		return os.MkdirAll(p(1), 0o755)
	case s[0] == "chmod" && len(s) == 3:
		return exec.Command("chmod", s[2], p(1)).Run()
	case s[0] == "mtime" && len(s) == 3:
		tm, err := time.Parse(time.RFC3339, s[2])
		if err != nil {
			return err
		}
		return exec.Command("touch", "-h", "-d", tm.Format(time.RFC3339), p(1)).Run()
	case s[0] == "symlink" && len(s) == 3:
		return os.Symlink(s[2], p(1))
	case s[0] == "hardlink" && len(s) == 3:
		return os.Link(p(2), p(1))
	case s[0] == "tar" && len(s) == 4:
		// tar ARCHIVE FLAG DIR: FLAG is tar's compression flag (-z, -j, -J) or "-".
		args := []string{"-C", p(3), "-cf", p(1), "."}
		if s[2] != "-" {
			args = append([]string{s[2]}, args...)
		}
		if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return os.RemoveAll(p(3))
	}
	return fmt.Errorf("unknown setup step")
}

// leftovers are what buildah's chroot isolation leaves in every RUN layer.
var leftovers = map[string]bool{"etc/": true, "etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true, "run/": true, "etc": true, "run": true}

// compareImages compares the filesystems, configs and layers of this
// builder's and a reference's builds of one case; the reference's known
// differences are accepted.
func compareImages(t *testing.T, name string, ours, theirs *pulled, ref *reference) {
	t.Helper()
	known := ref.known
	diffs := diffTrees(ours.tree, theirs.tree)
	paths := make([]string, 0, len(diffs))
	for p := range diffs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !known.accepts(name, p) {
			t.Errorf("%s: %s: ours %s%s", ref.name, p, diffs[p], contentDiff(ours, theirs, p))
		}
	}
	for _, field := range []string{"Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts",
		"Volumes", "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell"} {
		a, b := configField(ours, field), configField(theirs, field)
		if !reflect.DeepEqual(a, b) && !known.accepts(name, "config."+field) {
			t.Errorf("config.%s: ours %s, %s %s", field, jsonOf(a), ref.name, jsonOf(b))
		}
	}
	oursLayers, theirLayers := ours.meaningfulLayers(), theirs.meaningfulLayers()
	if oursLayers != theirLayers && !known.accepts(name, "layers") {
		t.Errorf("layers: ours %d, %s %d (leaving out layers of nothing but buildah's chroot leftovers)", oursLayers, ref.name, theirLayers)
	}
	if ref.name != "buildah" { // buildah writes its own ("/bin/sh -c #(nop) ...")
		a, b := ours.createdBy(), theirs.createdBy()
		if !reflect.DeepEqual(a, b) && !known.accepts(name, "history.created_by") {
			t.Errorf("history created_by: ours %s, %s %s", jsonOf(a), ref.name, jsonOf(b))
		}
	}
	if ref.name != "buildah" && len(ours.layers) == len(theirs.layers) {
		// The same entries in the same order: a layer of the same tree
		// written another way (an opaque marker for whiteouts, a
		// parent directory left out) is a difference too.
		for i := range ours.layers {
			if diff := cmp.Diff(theirs.layers[i], ours.layers[i]); diff != "" && !known.accepts(name, "entries") {
				t.Errorf("layer %d entries differ (-%s +ours):\n%s", i, ref.name, diff)
			}
		}
	}
	oursHistory, theirHistory := ours.historyShape(t), theirs.historyShape(t)
	if oursHistory != theirHistory && !known.accepts(name, "history") {
		t.Errorf("history (L a layer, - empty): ours %s, %s %s", oursHistory, ref.name, theirHistory)
	}
}

// contentDiff shows both contents of a small text file that differs, so
// a failing case says how without the images at hand; "" otherwise.
func contentDiff(ours, theirs *pulled, p string) string {
	const limit = 2048
	read := func(pl *pulled) (string, bool) {
		if n, ok := pl.tree[p]; !ok || n.Type != "file" || n.Size > limit {
			return "", false
		}
		data, err := os.ReadFile(filepath.Join(pl.rootfs, p))
		return string(data), err == nil && utf8.Valid(data)
	}
	a, okA := read(ours)
	b, okB := read(theirs)
	if !okA || !okB {
		return ""
	}
	return fmt.Sprintf("\n--- ours\n%s\n--- theirs\n%s", a, b)
}

// createdBy lists the history's created_by, without the " # buildkit"
// BuildKit marks the steps it made a layer for with.
func (p *pulled) createdBy() []string {
	out := make([]string, len(p.history))
	for i, h := range p.history {
		out[i] = strings.TrimSuffix(h.CreatedBy, " # buildkit")
	}
	return out
}

// historyShape writes the history as one letter per entry: L for an entry
// with a layer, - for an empty one. A layer of nothing but buildah's chroot
// leftovers counts as empty. Every non-empty entry must own a layer.
func (p *pulled) historyShape(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	next := 0
	for _, h := range p.history {
		if h.EmptyLayer {
			b.WriteByte('-')
			continue
		}
		if next >= len(p.layers) {
			t.Fatalf("history has more non-empty entries than the image's %d layers", len(p.layers))
		}
		if p.isLeftovers(next) {
			b.WriteByte('-')
		} else {
			b.WriteByte('L')
		}
		next++
	}
	if next != len(p.layers) {
		t.Errorf("history names %d layers, the manifest has %d", next, len(p.layers))
	}
	return b.String()
}

// isLeftovers tells whether layer i holds nothing but chroot leftovers.
func (p *pulled) isLeftovers(i int) bool {
	for _, e := range p.layers[i] {
		if !leftovers[e] {
			return false
		}
	}
	return true
}

// meaningfulLayers counts layers that hold more than buildah's chroot leftovers.
func (p *pulled) meaningfulLayers() int {
	n := 0
	for i := range p.layers {
		if !p.isLeftovers(i) {
			n++
		}
	}
	return n
}

func configField(p *pulled, field string) any {
	v := p.config.Config[field]
	if field == "Labels" {
		if m, ok := v.(map[string]any); ok {
			delete(m, "io.buildah.version")
			if len(m) == 0 {
				return nil
			}
		}
	}
	if s, ok := v.(string); ok && s == "" {
		return nil
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return nil
	}
	if l, ok := v.([]any); ok && len(l) == 0 {
		return nil
	}
	return v
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
