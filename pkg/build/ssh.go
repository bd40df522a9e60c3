package build

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/buildcrew/builder/pkg/dockerfile"
	"github.com/buildcrew/builder/pkg/isolation"
)

// sshSource is what one ssh id of the build serves: an agent's socket,
// or the keys of files, served by an agent of the builder's own.
type sshSource struct {
	socket  string
	keyring agent.Agent
}

// sshSources reads the build's ssh ids (Options.SSH): a path that is a
// socket is an agent; other paths are private keys (without a
// passphrase), as buildx's --ssh takes them.
func sshSources(given map[string][]string) (map[string]sshSource, error) {
	out := map[string]sshSource{}
	for id, paths := range given {
		if len(paths) == 1 {
			if fi, err := os.Stat(paths[0]); err == nil && fi.Mode()&os.ModeSocket != 0 {
				out[id] = sshSource{socket: paths[0]}
				continue
			}
		}
		keyring := agent.NewKeyring()
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("ssh %s: %w", id, err)
			}
			key, err := ssh.ParseRawPrivateKey(data)
			if err != nil {
				return nil, fmt.Errorf("ssh %s: %s: %w", id, p, err)
			}
			if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
				return nil, fmt.Errorf("ssh %s: %s: %w", id, p, err)
			}
		}
		out[id] = sshSource{keyring: keyring}
	}
	return out, nil
}

// sshMount gives a step ssh id's agent, as BuildKit does: a socket of
// its own at the target (mode, uid and gid as the mount says: 0600, root
// by default), forwarding to the agent or serving the keys, for the
// step only. It reports false for an id the build was not given, unless
// the mount requires it.
func (b *builder) sshMount(m dockerfile.Mount, n int, sm *stepMounts) (isolation.Mount, bool, error) {
	id := m.ID
	if id == "" {
		id = "default"
	}
	src, ok := b.ssh[id]
	if !ok {
		if m.Required {
			return isolation.Mount{}, false, fmt.Errorf("no SSH agent or key %q was given to the build, and the mount requires it", id)
		}
		return isolation.Mount{}, false, nil
	}
	dir, err := os.MkdirTemp(filepath.Join(b.work, "tmp"), "ssh-")
	if err != nil {
		return isolation.Mount{}, false, err
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return isolation.Mount{}, false, err
	}
	mode, uid, gid := os.FileMode(0o600), 0, 0
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode) & os.ModePerm
	}
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if err := os.Chmod(sock, mode); err == nil && os.Geteuid() == 0 {
		err = os.Chown(sock, uid, gid)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveSSH(l, src)
	}()
	sm.undo = append(sm.undo, func() {
		l.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	target := m.Target
	if target == "" {
		target = fmt.Sprintf("/run/buildkit/ssh_agent.%d", n)
	}
	return isolation.Mount{Source: sock, Target: target}, true, nil
}

// serveSSH answers the step's connections until l closes.
func serveSSH(l net.Listener, src sshSource) {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			if src.keyring != nil {
				agent.ServeAgent(src.keyring, c)
				return
			}
			forward(c, src.socket)
		}()
	}
}

// forward relays a connection to the agent at socket.
func forward(c net.Conn, socket string) {
	up, err := net.Dial("unix", socket)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	relay := func(dst io.Writer, src io.Reader) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go relay(up, c)
	go relay(c, up)
	<-done
}
