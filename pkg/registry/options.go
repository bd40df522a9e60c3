// Package registry turns the user's registry settings (credentials, plain
// HTTP hosts, TLS verification, mirrors) into go-containerregistry
// options, for pulling base images and for pushing results alike.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
	// CAs are certificates (PEM) trusted for a host ("host:port"),
	// besides the system's: a registry with a private CA.
	CAs map[string][]byte
	// ClientCerts are presented to a host ("host:port") that
	// authenticates clients by TLS.
	ClientCerts map[string]tls.Certificate
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
		if repo := repositoryPart(s); repo != strings.ToLower(repo) {
			return nil, fmt.Errorf("parsing reference %q: repository names must be lowercase (%s)", s, strings.ToLower(repo))
		}
		return nil, fmt.Errorf("parsing reference %q: %w", s, err)
	}
	if o.Insecure || slices.Contains(o.InsecureRegistries, ref.Context().RegistryStr()) {
		if ref, err = name.ParseReference(s, name.Insecure); err != nil {
			return nil, fmt.Errorf("parsing reference %q: %w", s, err)
		}
	}
	return ref, nil
}

// repositoryPart is s without its tag or digest (and without its
// registry, whose name may have capitals).
func repositoryPart(s string) string {
	s, _, _ = strings.Cut(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s = s[:i]
	}
	if first, rest, ok := strings.Cut(s, "/"); ok && strings.ContainsAny(first, ".:") {
		s = rest
	}
	return s
}

// NotFound rewrites a registry's answer that ref is not there in plain
// words: which tag (or digest) a repository lacks, or that the repository
// is not there; other errors come back as they were.
func NotFound(ref name.Reference, err error) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	codes := map[transport.ErrorCode]bool{}
	for _, d := range terr.Errors {
		codes[d.Code] = true
	}
	repo := ref.Context().Name()
	switch {
	case codes[transport.NameUnknownErrorCode]:
		return fmt.Errorf("the repository %s does not exist, or the credentials may not read it", repo)
	case codes[transport.ManifestUnknownErrorCode] || terr.StatusCode == http.StatusNotFound:
		if t, ok := ref.(name.Tag); ok {
			return fmt.Errorf("the repository %s has no tag %q", repo, t.TagStr())
		}
		return fmt.Errorf("the repository %s has no image %s", repo, ref.Identifier())
	}
	return err
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
	t, ok := base.(*http.Transport)
	if !ok {
		return base
	}
	// with returns base with TLS settings changed by set.
	with := func(set func(*tls.Config)) *http.Transport {
		c := t.Clone()
		if c.TLSClientConfig == nil {
			c.TLSClientConfig = &tls.Config{}
		}
		set(c.TLSClientConfig)
		return c
	}
	def := base
	if o.SkipTLSVerify {
		def = with(func(c *tls.Config) { c.InsecureSkipVerify = true }) //nolint:gosec // the user asked for it
	}
	hosts := map[string]http.RoundTripper{}
	for _, h := range hostsOf(o) {
		hosts[h] = with(func(c *tls.Config) {
			if o.SkipTLSVerify || slices.Contains(o.SkipTLSVerifyRegistries, h) {
				c.InsecureSkipVerify = true //nolint:gosec // the user asked for it
			}
			if ca, ok := o.CAs[h]; ok {
				pool, err := x509.SystemCertPool()
				if err != nil || pool == nil {
					pool = x509.NewCertPool()
				}
				pool.AppendCertsFromPEM(ca)
				c.RootCAs = pool
			}
			if cert, ok := o.ClientCerts[h]; ok {
				c.Certificates = []tls.Certificate{cert}
			}
		})
	}
	if len(hosts) == 0 {
		return def
	}
	return &perHost{hosts: hosts, other: def}
}

// hostsOf lists the hosts with TLS settings of their own.
func hostsOf(o Options) []string {
	out := append([]string(nil), o.SkipTLSVerifyRegistries...)
	for h := range o.CAs {
		out = append(out, h)
	}
	for h := range o.ClientCerts {
		out = append(out, h)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// perHost gives some hosts a transport of their own.
type perHost struct {
	hosts map[string]http.RoundTripper
	other http.RoundTripper
}

func (p *perHost) RoundTrip(req *http.Request) (*http.Response, error) {
	if t, ok := p.hosts[req.URL.Host]; ok {
		return t.RoundTrip(req)
	}
	return p.other.RoundTrip(req)
}
