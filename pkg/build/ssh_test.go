package build

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/buildcrew/builder/pkg/isolation"
)

// agentRunner lists, from the host, the keys each ssh socket a step gets
// serves, then runs the step.
type agentRunner struct {
	isolation.Chroot
	mu   sync.Mutex
	keys map[string]int // target -> keys listed
}

func (r *agentRunner) Run(ctx context.Context, spec *isolation.Spec) error {
	for _, m := range spec.Mounts {
		if !strings.HasSuffix(m.Source, "agent.sock") {
			continue
		}
		c, err := net.Dial("unix", m.Source)
		if err != nil {
			return err
		}
		keys, err := agent.NewClient(c).List()
		c.Close()
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.keys[m.Target] = len(keys)
		r.mu.Unlock()
	}
	return r.Chroot.Run(ctx, spec)
}

// TestSSHMount gives steps an agent as BuildKit does: keys from files
// served by the builder's agent, an agent's socket forwarded, at
// /run/buildkit/ssh_agent.N (or target=) with SSH_AUTH_SOCK, mode and
// owner as asked, nothing in the image; a required id that was not given
// fails the step, an optional one is left out.
func TestSSHMount(t *testing.T) {
	base := busybox(t)
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	// An agent of the test's, holding two keys, for forwarding.
	keyring := agent.NewKeyring()
	for range 2 {
		_, k, _ := ed25519.GenerateKey(nil)
		keyring.Add(agent.AddedKey{PrivateKey: k})
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()

	df := "FROM " + base + `
RUN --mount=type=ssh echo $SSH_AUTH_SOCK > /env && stat -c '%a %u' $SSH_AUTH_SOCK > /mode && test -S /run/buildkit/ssh_agent.0
RUN --mount=type=ssh,id=fwd,target=/tmp/fwd.sock,mode=0660,uid=1000 --mount=type=ssh,id=absent echo $SSH_AUTH_SOCK > /env2 && stat -c '%a %u' /tmp/fwd.sock > /mode2
RUN --mount=type=ssh,id=absent echo "${SSH_AUTH_SOCK:-unset}" > /env3
`
	r := &agentRunner{Chroot: isolation.Chroot{TempDir: t.TempDir()}, keys: map[string]int{}}
	res := mustBuildIn(t, df, map[string]string{}, amd, func(o *Options) {
		o.Runner = r
		o.SSH = map[string][]string{"default": {keyFile}, "fwd": {sock}}
	})
	fs := flatten(t, res.Image)
	want := map[string]string{"env": "/run/buildkit/ssh_agent.0\n", "mode": "600 0\n", "env2": "/tmp/fwd.sock\n", "mode2": "660 1000\n", "env3": "unset\n"}
	for p, body := range want {
		if fs[p].Body != body {
			t.Errorf("/%s = %q, want %q", p, fs[p].Body, body)
		}
	}
	if r.keys["/run/buildkit/ssh_agent.0"] != 1 || r.keys["/tmp/fwd.sock"] != 2 {
		t.Errorf("keys served: %v, want 1 from the key file and 2 forwarded", r.keys)
	}
	for p := range fs {
		if strings.HasPrefix(p, "run/buildkit") || p == "tmp/fwd.sock" {
			t.Errorf("%s is in the image", p)
		}
	}
	_, err = buildIn(t, "FROM "+base+"\nRUN --mount=type=ssh,id=absent,required=true true\n", map[string]string{}, amd)
	if err == nil || !strings.Contains(err.Error(), `no SSH agent or key "absent"`) {
		t.Errorf("a required ssh id that was not given: err = %v", err)
	}
}
