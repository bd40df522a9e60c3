package main

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/buildcrew/builder/pkg/registry"
)

// keychain is where credentials come from: docker's config.json (and the
// helpers it names) first, then the --credential-helpers, as the kaniko
// fork takes them. Without the flag, the cloud helpers kaniko's image
// ships are asked where their programs are on PATH; "" asks none.
func (f *buildFlags) keychain() (authn.Keychain, error) {
	var helpers []registry.CredentialHelper
	if f.credentialHelpers == nil {
		for _, n := range registry.KnownHelpers() {
			h, _ := registry.KnownHelper(n)
			if _, err := exec.LookPath("docker-credential-" + h.Name); err == nil {
				helpers = append(helpers, h)
			}
		}
	}
	for _, value := range f.credentialHelpers {
		for _, n := range strings.Split(value, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			h, ok := registry.KnownHelper(n)
			if !ok {
				h = registry.CredentialHelper{Name: n}
			}
			if _, err := exec.LookPath("docker-credential-" + h.Name); err != nil {
				return nil, fmt.Errorf("--credential-helpers %s: docker-credential-%s is not on PATH", n, h.Name)
			}
			helpers = append(helpers, h)
		}
	}
	if len(helpers) == 0 {
		return authn.DefaultKeychain, nil
	}
	return authn.NewMultiKeychain(authn.DefaultKeychain, registry.HelperKeychain(helpers)), nil
}
