package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// serveGitSSH serves the repositories under base over ssh on addr
// ("127.0.0.1:0" for any port), as a git host does: a client whose key
// the agent at agentSock holds may run git-upload-pack. It returns the
// address it listens on and a known_hosts file naming its host key.
func serveGitSSH(t *testing.T, base, addr, agentSock string) (string, string, error) {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("unix", agentSock)
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := agent.NewClient(conn).List()
	conn.Close()
	if err != nil || len(allowed) == 0 {
		t.Fatalf("the agent holds no key: %v", err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		for _, a := range allowed {
			if string(a.Marshal()) == string(key.Marshal()) {
				return nil, nil
			}
		}
		return nil, fmt.Errorf("unknown key")
	}}
	cfg.AddHostKey(hostKey)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", "", err
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveGitSSHConn(c, cfg, base)
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	name := "[" + host + "]:" + port
	if port == "22" {
		name = host
	}
	known := filepath.Join(t.TempDir(), "known_hosts")
	line := name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey.PublicKey()))) + "\n"
	if err := os.WriteFile(known, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return l.Addr().String(), known, nil
}

// serveGitSSHConn runs one client's git-upload-pack commands.
func serveGitSSHConn(c net.Conn, cfg *ssh.ServerConfig, base string) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for req := range requests {
				if req.Type != "exec" || len(req.Payload) < 4 {
					req.Reply(false, nil)
					continue
				}
				command := string(req.Payload[4:])
				verb, repo, _ := strings.Cut(command, " ")
				repo = strings.Trim(repo, "'\"")
				if verb != "git-upload-pack" {
					req.Reply(false, nil)
					return
				}
				req.Reply(true, nil)
				cmd := exec.Command("git", "upload-pack", filepath.Join(base, filepath.Clean("/"+repo)))
				cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
				status := uint32(0)
				if err := cmd.Run(); err != nil {
					status = 1
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], status)
				ch.SendRequest("exit-status", false, b[:])
				return
			}
		}()
	}
}
