package integration

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestKnownMarksEveryMatch: a difference covered by two entries (a path
// and its directory) marks both used, every time, so which one the map
// yields first cannot make the other look stale; an entry nothing matched
// is still reported.
func TestKnownMarksEveryMatch(t *testing.T) {
	for range 20 {
		k := &knownDifferences{entries: map[string]string{
			"c /dir": "r", "c /dir/f": "r", "c /other": "r", "* /etc/hosts": "r",
		}, used: map[string]bool{}}
		if !k.accepts("c", "/dir/f") || !k.accepts("c", "/etc/hosts") || k.accepts("d", "/dir") {
			t.Fatal("accepts answered wrong")
		}
		if diff := cmp.Diff([]string{"c /other"}, k.unused()); diff != "" {
			t.Fatalf("unused (-want +got):\n%s", diff)
		}
	}
}
