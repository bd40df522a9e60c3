package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// checksum is ADD --checksum for a URL: "sha256:" and the download's
// digest in hex. BuildKit v0.34.2 parses sha384 and sha512 digests too but
// compares them with the download's sha256, so they never match: they are
// refused here before anything is downloaded.
type checksum struct {
	text string // as given
	want string // the hex digits
}

// parseChecksum checks s, with BuildKit's words for what is wrong.
func parseChecksum(s string) (*checksum, error) {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok || alg == "" || enc == "" {
		return nil, fmt.Errorf("invalid checksum digest format %q: want sha256:<64 hex digits>", s)
	}
	if alg != "sha256" {
		return nil, fmt.Errorf("unsupported digest algorithm %q in checksum %q: ADD --checksum takes sha256", alg, s)
	}
	if len(enc) != 2*sha256.Size {
		return nil, fmt.Errorf("invalid checksum digest length %q: want %d hex digits", s, 2*sha256.Size)
	}
	if _, err := hex.DecodeString(enc); err != nil || strings.ToLower(enc) != enc {
		return nil, fmt.Errorf("invalid checksum digest format %q: not lowercase hex", s)
	}
	return &checksum{text: s, want: enc}, nil
}

// check compares h, a sha256 fed the whole download, with the checksum.
func (c *checksum) check(h hash.Hash, rawURL string) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != c.want {
		return fmt.Errorf("checksum mismatch for %s: got sha256:%s, want %s", rawURL, got, c.text)
	}
	return nil
}
