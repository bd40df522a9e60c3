// Package registry turns the user's registry settings (credentials, plain
// HTTP hosts, TLS verification, mirrors) into go-containerregistry
// options, for pulling base images and for pushing results alike.
package registry

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options say how to reach registries.
type Options struct {
	// Keychain finds credentials; nil means authn.DefaultKeychain (docker's
	// config.json under $DOCKER_CONFIG, and its credential helpers).
	Keychain authn.Keychain
	// Insecure reaches every registry over plain HTTP.
	Insecure bool
	// InsecureRegistries are hosts ("host:port") reached over plain HTTP.
	InsecureRegistries []string
	// SkipTLSVerify accepts any certificate.
	SkipTLSVerify bool
	// SkipTLSVerifyRegistries are hosts ("host:port") whose certificates
	// are accepted unverified.
	SkipTLSVerifyRegistries []string
	// Transport is the base transport; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// UserAgent is sent with every request.
	UserAgent string
	// Mirrors maps a registry host ("index.docker.io" for Docker Hub) to
	// mirrors ("host[:port][/path]") that pulls try first, in order.
	Mirrors map[string][]string
	// NoFallback stops a pull at the mirrors when a registry has some.
	NoFallback bool
	// RetryWait, when set, is the first wait of the client's own retries
	// of transient failures (5xx, 429, cut connections); they double three
	// times. The default is go-containerregistry's (1s, tripling).
	RetryWait time.Duration
}

// ParseReference parses an image reference, marking it insecure when its
// registry must be reached over plain HTTP.
func (o Options) ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("parsing reference %q: %w", s, err)
	}
	if o.Insecure || slices.Contains(o.InsecureRegistries, ref.Context().RegistryStr()) {
		if ref, err = name.ParseReference(s, name.Insecure); err != nil {
			return nil, fmt.Errorf("parsing reference %q: %w", s, err)
		}
	}
	return ref, nil
}

// CheckPush tells whether the credentials for ref's repository let them
// push there, asking the registry (which must answer): nil when they do.
func (o Options) CheckPush(ref name.Reference) error {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return remote.CheckPushPermission(ref, kc, o.transport())
}

// Remote returns the options for ggcr's remote package.
func (o Options) Remote(ctx context.Context, platform *v1.Platform) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(o.transport()),
	}
	if o.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(o.UserAgent))
	}
	if platform != nil {
		opts = append(opts, remote.WithPlatform(*platform))
	}
	if o.RetryWait > 0 {
		opts = append(opts, remote.WithRetryBackoff(remote.Backoff{Duration: o.RetryWait, Factor: 2, Jitter: 0.1, Steps: 3}))
	}
	return opts
}

func (o Options) transport() http.RoundTripper {
	base := o.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	if !o.SkipTLSVerify && len(o.SkipTLSVerifyRegistries) == 0 {
		return base
	}
	t, ok := base.(*http.Transport)
	if !ok {
		return base
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // the user asked for it
	if o.SkipTLSVerify {
		return t
	}
	return &perHost{hosts: o.SkipTLSVerifyRegistries, unverified: t, verified: base}
}

// perHost skips certificate checks for some hosts only.
type perHost struct {
	hosts                []string
	unverified, verified http.RoundTripper
}

func (p *perHost) RoundTrip(req *http.Request) (*http.Response, error) {
	if slices.Contains(p.hosts, req.URL.Host) {
		return p.unverified.RoundTrip(req)
	}
	return p.verified.RoundTrip(req)
}
