package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// certificate makes a certificate for cn signed by parent (itself when
// nil), returning it as tls.Certificate and PEM.
func certificate(t *testing.T, cn string, isCA bool, parent *tls.Certificate) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	signer, signerKey := tmpl, any(key)
	if parent != nil {
		signer, signerKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestPrivateCAAndClientCerts pushes to a registry whose certificate a
// private CA signed and that asks for a client certificate: only with
// the CA and the certificate given for that host.
func TestPrivateCAAndClientCerts(t *testing.T) {
	ca, caPEM := certificate(t, "test CA", true, nil)
	server, _ := certificate(t, "127.0.0.1", false, &ca)
	client, _ := certificate(t, "builder", false, &ca)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	srv := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		fails string
	}{
		{"no CA", Options{ClientCerts: map[string]tls.Certificate{host: client}}, "certificate"},
		{"no client certificate", Options{CAs: map[string][]byte{host: caPEM}}, "certificate"},
		{"CA for another host", Options{CAs: map[string][]byte{"other:5000": caPEM}, ClientCerts: map[string]tls.Certificate{host: client}}, "certificate"},
		{"both", Options{CAs: map[string][]byte{host: caPEM}, ClientCerts: map[string]tls.Certificate{host: client}}, ""},
		{"skip verification, with the certificate", Options{SkipTLSVerifyRegistries: []string{host}, ClientCerts: map[string]tls.Certificate{host: client}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := name.ParseReference(host + "/app:1")
			if err != nil {
				t.Fatal(err)
			}
			tc.opts.RetryWait = time.Millisecond
			err = remote.Write(ref, img, tc.opts.Remote(t.Context(), nil)...)
			if tc.fails == "" && err != nil || tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)) {
				t.Errorf("err = %v, want %q", err, tc.fails)
			}
		})
	}
}
