package integration

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// The conformance suite builds every case under testdata/conformance with
// this builder and with each reference builder the machine has (BuildKit
// itself, and buildah 1.28), flattens the images with umoci and compares
// their filesystems, configs and layers. Two more references are this
// builder itself: with kept base layers, and its own image run as a
// Kubernetes Pod runs it (isolation none). Accepted differences are listed
// with their reason in testdata/conformance/KNOWN_DIFFERENCES.buildkit
// (few: this builder follows BuildKit), KNOWN_DIFFERENCES (buildah's own
// rules), KNOWN_DIFFERENCES.kept and KNOWN_DIFFERENCES.pod; a case's
// expect file states results worth checking by name.

const conformanceDir = "testdata/conformance"

// conformanceCase is one directory of the corpus.
type conformanceCase struct {
	name    string
	dir     string
	args    []string // extra builder and buildah flags (--build-arg, --target)
	setup   [][]string
	expect  [][]string
	skip    map[string]string // reference name -> why it cannot build the case
	debian  bool
	wantErr string // the case must fail with this text
}

func loadCase(t *testing.T, dir string) *conformanceCase {
	t.Helper()
	c := &conformanceCase{name: filepath.Base(dir), dir: dir, skip: map[string]string{}}
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	c.debian = strings.Contains(string(df), "$DEBIAN")
	for _, spec := range []struct {
		file string
		into *[][]string
	}{{"setup", &c.setup}, {"expect", &c.expect}} {
		lines, err := readLines(filepath.Join(dir, spec.file))
		if err != nil {
			t.Fatal(err)
		}
		*spec.into = lines
	}
	opts, err := readLines(filepath.Join(dir, "options"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		switch o[0] {
		case "arg":
			c.args = append(c.args, o[1:]...)
		case "no-buildah", "no-buildkit", "no-pod":
			c.skip[strings.TrimPrefix(o[0], "no-")] = strings.Join(o[1:], " ")
		case "fails":
			c.wantErr = strings.Join(o[1:], " ")
		default:
			t.Fatalf("%s/options: unknown option %q", c.name, o[0])
		}
	}
	return c
}

// readLines reads a file of whitespace-separated words per line; fields
// may be Go-quoted strings. A missing file has no lines.
func readLines(p string) ([][]string, error) {
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, err := splitWords(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, words)
	}
	return out, sc.Err()
}

func splitWords(line string) ([]string, error) {
	// "config FIELD JSON": the JSON is kept whole.
	if rest, ok := strings.CutPrefix(line, "config "); ok {
		field, value, _ := strings.Cut(strings.TrimSpace(rest), " ")
		return []string{"config", field, strings.TrimSpace(value)}, nil
	}
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			end := 1
			for end < len(line) && (line[end] != '"' || line[end-1] == '\\') {
				end++
			}
			if end == len(line) {
				return nil, fmt.Errorf("unterminated quote in %q", line)
			}
			var s string
			if _, err := fmt.Sscanf(line[:end+1], "%q", &s); err != nil {
				return nil, err
			}
			out = append(out, s)
			line = line[end+1:]
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			i = len(line)
		}
		out = append(out, line[:i])
		line = line[i:]
	}
	return out, nil
}

func TestConformance(t *testing.T) {
	needs(t)
	refs, missing, stopRefs := references(t)
	defer stopRefs()
	if len(refs) == 0 {
		t.Skipf("no reference builder: %s", strings.Join(missing, "; "))
	}
	for _, m := range missing {
		t.Logf("not compared: %s", m)
	}
	dirs, err := filepath.Glob(filepath.Join(conformanceDir, "*", "Dockerfile"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases under %s", conformanceDir)
	}
	sort.Strings(dirs)
	stop := serveFiles(t)
	defer stop()
	var ran atomic.Int32
	t.Run("cases", func(t *testing.T) {
		for _, df := range dirs {
			c := loadCase(t, filepath.Dir(df))
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				ran.Add(1)
				runCase(t, c, refs)
			})
		}
	})
	// A listed difference no case shows any more is stale: say so, when
	// every case ran.
	if !t.Failed() && int(ran.Load()) == len(dirs) {
		for _, r := range refs {
			for _, key := range r.known.unused() {
				t.Errorf("the known differences from %s list %q, which no case shows any more", r.name, key)
			}
		}
	}
}
