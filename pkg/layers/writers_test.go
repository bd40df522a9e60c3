package layers

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// regWith is a regular file with the given contents.
func regWith(name, body string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(body)), PAXRecords: map[string]string{"body": body}}
}

// TestExtractKeepsOrderWithParallelWrites checks the entries that depend
// on a file written a moment earlier by another goroutine: the archive's
// order must win every time.
func TestExtractKeepsOrderWithParallelWrites(t *testing.T) {
	// Enough files before each case to keep every writer busy.
	var filler []*tar.Header
	for i := range 4 * maxWriters {
		filler = append(filler, reg(fmt.Sprintf("fill/%d", i)))
	}
	tests := []struct {
		name    string
		entries []*tar.Header
		want    []string          // the tree, as list gives it, without fill/
		content map[string]string // file contents to check
		linked  [][2]string       // pairs that must be one inode
	}{
		{
			name:    "the same file twice: the later wins",
			entries: []*tar.Header{regWith("f", "first"), regWith("f", "second")},
			want:    []string{"f"},
			content: map[string]string{"f": "second"},
		},
		{
			name:    "a hardlink to a file just written",
			entries: []*tar.Header{regWith("f", "data"), link("g", "f", tar.TypeLink)},
			want:    []string{"f", "g"},
			content: map[string]string{"g": "data"},
			linked:  [][2]string{{"f", "g"}},
		},
		{
			name:    "a file replaced by a directory",
			entries: []*tar.Header{regWith("d", "x"), dir("d/"), regWith("d/in", "in")},
			want:    []string{"d/", "d/in"},
		},
		{
			name:    "a file replaced by a symlink",
			entries: []*tar.Header{regWith("s", "x"), link("s", "elsewhere", tar.TypeSymlink)},
			want:    []string{"s -> elsewhere"},
		},
		{
			name:    "a directory with its files replaced by a file",
			entries: []*tar.Header{dir("d/"), regWith("d/a", "a"), regWith("d/b", "b"), regWith("d", "file")},
			want:    []string{"d"},
			content: map[string]string{"d": "file"},
		},
		{
			name:    "files written through a symlinked directory",
			entries: []*tar.Header{dir("real/"), link("via", "real", tar.TypeSymlink), regWith("via/f", "one"), regWith("real/f", "two")},
			want:    []string{"real/", "real/f", "via -> real"},
			content: map[string]string{"real/f": "two"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			extract(t, root, tarWithBodies(t, append(append([]*tar.Header{}, filler...), tt.entries...)), ExtractOptions{Whiteouts: true})
			var got []string
			for _, p := range list(t, root) {
				if p != "fill/" && !strings.HasPrefix(p, "fill/") {
					got = append(got, p)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			for p, want := range tt.content {
				data, err := os.ReadFile(filepath.Join(root, p))
				must(t, err)
				if string(data) != want {
					t.Errorf("%s holds %q, want %q", p, data, want)
				}
			}
			for _, pair := range tt.linked {
				a, err := os.Stat(filepath.Join(root, pair[0]))
				must(t, err)
				b, err := os.Stat(filepath.Join(root, pair[1]))
				must(t, err)
				if !os.SameFile(a, b) {
					t.Errorf("%s and %s are not one file", pair[0], pair[1])
				}
			}
			for i := range filler {
				if _, err := os.Stat(filepath.Join(root, "fill", fmt.Sprint(i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestExtractWrongArchiveFails checks that an error met on a writer
// goroutine stops the extraction and names the entry.
func TestExtractWrongArchiveFails(t *testing.T) {
	root := t.TempDir()
	data := tarWithBodies(t, []*tar.Header{regWith("f", "x"), regWith("f/under", "y")})
	err := Extract(t.Context(), root, strings.NewReader(string(data)), ExtractOptions{})
	if err == nil || !strings.Contains(err.Error(), "f/under") {
		t.Fatalf("got %v, want an error naming f/under", err)
	}
}

// tarWithBodies writes entries, each regular file holding its "body"
// record (or its name, when it has none).
func tarWithBodies(t *testing.T, hs []*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		c := *h
		body, ok := h.PAXRecords["body"]
		if !ok {
			body = h.Name
		}
		c.PAXRecords = nil
		if c.Mode == 0 {
			c.Mode = 0o644
		}
		if c.Typeflag == tar.TypeReg {
			c.Size = int64(len(body))
		}
		must(t, tw.WriteHeader(&c))
		if c.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

// TestExtractWrittenSeesTheFile checks that Written is told of a file only
// once it is on disk: ADD records each path's metadata right then.
func TestExtractWrittenSeesTheFile(t *testing.T) {
	root := t.TempDir()
	var hs []*tar.Header
	for i := range 4 * maxWriters {
		hs = append(hs, regWith(fmt.Sprintf("f%d", i), "contents"))
	}
	var missing []string
	opts := ExtractOptions{Written: func(rel string, _ Owner) {
		if data, err := os.ReadFile(filepath.Join(root, rel)); err != nil || string(data) != "contents" {
			missing = append(missing, rel)
		}
	}}
	extract(t, root, tarWithBodies(t, hs), opts)
	if len(missing) > 0 {
		t.Errorf("Written was told of files not yet written: %v", missing)
	}
}

// TestExtractAfterShortRead extracts an archive cut in the middle of a
// file, then a whole one: the second must not see bytes of the first.
func TestExtractAfterShortRead(t *testing.T) {
	whole := tarWithBodies(t, []*tar.Header{regWith("f", strings.Repeat("old", 1000))})
	cut := whole[:512+100]
	if err := Extract(t.Context(), t.TempDir(), bytes.NewReader(cut), ExtractOptions{}); err == nil {
		t.Fatal("a cut archive extracted without an error")
	}
	root := t.TempDir()
	extract(t, root, tarWithBodies(t, []*tar.Header{regWith("g", "new")}), ExtractOptions{})
	data, err := os.ReadFile(filepath.Join(root, "g"))
	must(t, err)
	if string(data) != "new" {
		t.Errorf("g holds %q, want %q", data, "new")
	}
}
