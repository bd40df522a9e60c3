package dockerfile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// expandPorts expands EXPOSE's words (each may become several) and normalizes
// them to "PORT/proto" entries, one per port of a range, as BuildKit does;
// expanded are the words as expanded, for BuildKit's checks.
func expandPorts(lex *shell.Lex, words []string, vars *Vars) (ports, expanded []string, err error) {
	for _, w := range words {
		parts, err := lex.ProcessWords(w, vars)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range parts {
			ps, err := parsePort(p)
			if err != nil {
				return nil, nil, fmt.Errorf("invalid port %q: %w", p, err)
			}
			ports = append(ports, ps...)
			expanded = append(expanded, p)
		}
	}
	return ports, expanded, nil
}

// parsePort reads "[ip:][hostport:]port[-end][/proto]"; only the container
// side matters for an image.
func parsePort(raw string) ([]string, error) {
	if i := strings.LastIndexByte(raw, ':'); i >= 0 {
		raw = raw[i+1:]
	}
	port, proto, _ := strings.Cut(raw, "/")
	proto = strings.ToLower(proto)
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	startS, endS, isRange := strings.Cut(port, "-")
	start, err := portNumber(startS)
	if err != nil {
		return nil, err
	}
	end := start
	if isRange {
		if end, err = portNumber(endS); err != nil {
			return nil, err
		}
		if end < start {
			return nil, fmt.Errorf("invalid port range %s", port)
		}
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, strconv.Itoa(p)+"/"+proto)
	}
	return out, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	return n, nil
}
