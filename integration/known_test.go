package integration

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
)

// knownDifferences are the accepted differences from buildah: lines of
// "CASE WHAT REASON...", where CASE is a case name or "*" and WHAT is a
// path in the image ("/etc/hosts", a glob, covering what lies below it),
// "config.FIELD", "layers", "history" or "entries".
type knownDifferences struct {
	mu      sync.Mutex
	entries map[string]string // "case what" -> reason
	used    map[string]bool
}

func loadKnown(p string) (*knownDifferences, error) {
	lines, err := readLines(p)
	if err != nil {
		return nil, err
	}
	k := &knownDifferences{entries: map[string]string{}, used: map[string]bool{}}
	for _, l := range lines {
		if len(l) < 3 {
			return nil, fmt.Errorf("%s: %q: want CASE WHAT REASON", p, strings.Join(l, " "))
		}
		k.entries[l[0]+" "+l[1]] = strings.Join(l[2:], " ")
	}
	return k, nil
}

// accepts reports whether a difference in what, in case c, is listed.
func (k *knownDifferences) accepts(c, what string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	// Every entry that matches is marked used, not only the first the map
	// yields: an entry for a path and one for its directory both cover the
	// path, and which of them went unused changed from run to run.
	accepted := false
	for key := range k.entries {
		kc, kw, _ := strings.Cut(key, " ")
		if kc != "*" && kc != c {
			continue
		}
		// A pattern covers a path and everything below it.
		for p := what; p != "/" && p != "."; p = path.Dir(p) {
			if ok, _ := path.Match(kw, p); ok || kw == p {
				k.used[key] = true
				accepted = true
				break
			}
		}
	}
	return accepted
}

// unused lists the entries for named cases that no difference matched.
func (k *knownDifferences) unused() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for key := range k.entries {
		if !k.used[key] && !strings.HasPrefix(key, "* ") {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}
