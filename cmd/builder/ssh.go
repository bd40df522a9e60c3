package main

import (
	"fmt"
	"os"
	"strings"
)

// parseSSH reads --ssh values as buildx does: "default" (the agent at
// $SSH_AUTH_SOCK), or ID=PATH[,PATH...] where one path that is a socket
// is an agent and others are private keys.
func parseSSH(values []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, v := range values {
		id, paths, ok := strings.Cut(v, "=")
		if id == "" {
			return nil, fmt.Errorf("--ssh %q: want default, or ID=SOCKET or ID=KEY[,KEY]", v)
		}
		if !ok || paths == "" {
			sock := os.Getenv("SSH_AUTH_SOCK")
			if sock == "" {
				return nil, fmt.Errorf("--ssh %s: no path given and SSH_AUTH_SOCK is not set", id)
			}
			paths = sock
		}
		out[id] = strings.Split(paths, ",")
	}
	return out, nil
}
