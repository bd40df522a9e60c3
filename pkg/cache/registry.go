package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/buildcrew/builder/pkg/registry"
)

// Registry keeps entries in a repository, each tagged with its key. A
// registry replaces a tag in one request, so concurrent writers of one key
// leave one whole entry.
type Registry struct {
	Repo     name.Repository
	Registry registry.Options
	TTL      time.Duration // 0 means DefaultTTL; negative never expires
	Now      func() time.Time
}

func (r *Registry) ttl() time.Duration { return ttlOr(r.TTL) }

// Get returns the entry for key, or nil when there is none or it expired.
func (r *Registry) Get(ctx context.Context, key string) (*Entry, error) {
	ref := r.Repo.Tag(key)
	img, err := remote.Image(ref, r.Registry.Remote(ctx, nil)...)
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.ManifestUnknownErrorCode)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading cache entry %s: %w", ref, err)
	}
	return imageEntry(img, r.ttl(), now(r.Now))
}

// Put stores e under key.
func (r *Registry) Put(ctx context.Context, key string, e Entry) error {
	img, err := entryImage(e)
	if err != nil {
		return err
	}
	ref := r.Repo.Tag(key)
	if err := remote.Write(ref, img, r.Registry.Remote(ctx, nil)...); err != nil {
		return fmt.Errorf("writing cache entry %s: %w", ref, err)
	}
	return nil
}

func hasCode(e *transport.Error, code transport.ErrorCode) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

func ttlOr(ttl time.Duration) time.Duration {
	if ttl == 0 {
		return DefaultTTL
	}
	return ttl
}

func now(f func() time.Time) time.Time {
	if f != nil {
		return f()
	}
	return time.Now()
}
