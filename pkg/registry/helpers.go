package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// CredentialHelper is a Docker credential helper program,
// docker-credential-Name, asked for the registries it serves.
type CredentialHelper struct {
	Name   string                 // the program is docker-credential-Name
	Serves func(host string) bool // nil: every registry
}

// KnownHelper returns the cloud registries' helpers that kaniko's image
// ships, by the names the kaniko fork's --credential-helpers takes:
// ecr (Amazon ECR), google or gcr (Container Registry and Artifact
// Registry), acr (Azure Container Registry). Each serves its cloud's
// registries only.
func KnownHelper(name string) (CredentialHelper, bool) {
	switch name {
	case "ecr", "ecr-login":
		return CredentialHelper{Name: "ecr-login", Serves: func(h string) bool {
			return strings.Contains(h, ".dkr.ecr.") && (strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn"))
		}}, true
	case "google", "gcr":
		return CredentialHelper{Name: "gcr", Serves: func(h string) bool {
			return h == "gcr.io" || strings.HasSuffix(h, ".gcr.io") || strings.HasSuffix(h, "-docker.pkg.dev")
		}}, true
	case "acr", "acr-env":
		return CredentialHelper{Name: "acr-env", Serves: func(h string) bool { return strings.HasSuffix(h, ".azurecr.io") }}, true
	}
	return CredentialHelper{}, false
}

// KnownHelpers lists the names KnownHelper knows, once each.
func KnownHelpers() []string { return []string{"ecr", "google", "acr"} }

// HelperKeychain asks helpers, in order, for the credentials of a
// registry they serve; a helper that has none (or fails) is passed over.
func HelperKeychain(helpers []CredentialHelper) authn.Keychain {
	var kcs []authn.Keychain
	for _, h := range helpers {
		kcs = append(kcs, authn.NewKeychainFromHelper(execHelper{h}))
	}
	return authn.NewMultiKeychain(kcs...)
}

// execHelper runs a helper program with the credential helper protocol:
// "get", the server on stdin, JSON with Username and Secret on stdout.
type execHelper struct{ h CredentialHelper }

func (e execHelper) Get(server string) (string, string, error) {
	if e.h.Serves != nil && !e.h.Serves(server) {
		return "", "", fmt.Errorf("docker-credential-%s does not serve %s", e.h.Name, server)
	}
	cmd := exec.Command("docker-credential-"+e.h.Name, "get")
	cmd.Stdin = strings.NewReader(server)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("docker-credential-%s get %s: %w: %s", e.h.Name, server, err, strings.TrimSpace(errb.String()))
	}
	var creds struct{ Username, Secret string }
	if err := json.Unmarshal(out.Bytes(), &creds); err != nil {
		return "", "", fmt.Errorf("docker-credential-%s get %s: %w", e.h.Name, server, err)
	}
	return creds.Username, creds.Secret, nil
}
