// Package layers writes filesystem changes as deterministic OCI layer tars,
// compresses and hashes them in one pass, and extracts layers into a root
// directory without letting any entry escape it.
package layers

import "strings"

// Kind says how an Entry is written.
type Kind int

const (
	// Present writes the path as it is on disk: its type, metadata and content.
	Present Kind = iota
	// Deleted writes a whiteout (".wh.NAME") that hides the path of lower layers.
	Deleted
	// Opaque writes the directory as it is on disk plus the marker
	// ".wh..wh..opq" that hides everything lower layers had inside it.
	Opaque
)

// Whiteout prefixes and the opaque marker of the OCI image layer format.
const (
	WhiteoutPrefix = ".wh."
	OpaqueMarker   = ".wh..wh..opq"
)

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// Entry is one path to put into a layer.
type Entry struct {
	Path  string // slash-separated and relative to the root, e.g. "etc/passwd"
	Kind  Kind
	Owner *Owner // when set, recorded instead of the owner found on disk
}

// cleanRel makes p relative and clean: "/a/./b/" and "a/b" give "a/b".
func cleanRel(p string) string {
	p = strings.TrimPrefix(cleanAbs(p), "/")
	return p
}
