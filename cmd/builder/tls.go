package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// registryCAs reads --registry-certificate REGISTRY=CA_FILE values.
func registryCAs(values []string) (map[string][]byte, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string][]byte{}
	for _, v := range values {
		reg, file, ok := strings.Cut(v, "=")
		if !ok || reg == "" || file == "" {
			return nil, fmt.Errorf("--registry-certificate %q: want REGISTRY=CA_FILE", v)
		}
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--registry-certificate %s: %w", reg, err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--registry-certificate %s: %s holds no PEM certificate", reg, file)
		}
		out[reg] = pem
	}
	return out, nil
}

// clientCerts reads --registry-client-cert REGISTRY=CERT_FILE,KEY_FILE
// values.
func clientCerts(values []string) (map[string]tls.Certificate, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]tls.Certificate{}
	for _, v := range values {
		reg, files, _ := strings.Cut(v, "=")
		cert, key, ok := strings.Cut(files, ",")
		if reg == "" || !ok || cert == "" || key == "" {
			return nil, fmt.Errorf("--registry-client-cert %q: want REGISTRY=CERT_FILE,KEY_FILE", v)
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--registry-client-cert %s: %w", reg, err)
		}
		out[reg] = pair
	}
	return out, nil
}
