package rootfs

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/buildcrew/builder/pkg/layers"
)

// Shared is one directory that stages build in one after another:
// kaniko's mode, where the builder runs in a container and the directory
// is its own "/". What the directory holds that is not a stage's (the
// spared paths: the builder's own files, the work directory, the
// context) is never deleted, unpacked over or recorded.
type Shared struct {
	dir    string
	others *layers.Ignore
}

// NewShared prepares building in dir, sparing the paths in spare that
// lie inside it.
func NewShared(dir string, spare ...string) *Shared {
	var rels []string
	for _, p := range spare {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(dir, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue // outside dir: nothing to spare
		}
		rels = append(rels, rel)
	}
	return &Shared{dir: dir, others: layers.NewIgnore(rels...)}
}

// Dir is the shared directory.
func (s *Shared) Dir() string { return s.dir }

// Fill empties the directory (but the spared paths) and unpacks ls there.
func (s *Shared) Fill(ctx context.Context, m *Maker, ls []v1.Layer) (*Root, error) {
	start := time.Now()
	if err := s.Clear(ctx); err != nil {
		return nil, err
	}
	if err := m.Unpack(ctx, s.dir, ls, layers.ExtractOptions{Spare: s.others}); err != nil {
		return nil, err
	}
	m.opts.Logger.Debug("unpacked layers at the shared root", "root", s.dir, "layers", len(ls), "took", time.Since(start))
	return &Root{Dir: s.dir, Others: s.others}, nil
}

// Clear empties the directory but the spared paths.
func (s *Shared) Clear(ctx context.Context) error {
	if err := layers.Clear(ctx, s.dir, s.others); err != nil {
		return fmt.Errorf("emptying %s: %w", s.dir, err)
	}
	return nil
}
