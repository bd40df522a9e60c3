package dockerfile

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Bounds on what a Dockerfile can make the builder hold: without them,
// `ENV A=${A}${A}` repeated a few dozen times doubles a value until the
// machine runs out of memory. Both are far above what a command can use
// (the kernel refuses an argument or variable over 128 KiB).
const (
	// MaxWordSize is the most an expanded word (an ENV or LABEL value, a
	// path, a RUN command in exec form) may hold.
	MaxWordSize = 1 << 20
	// MaxVarsSize is the most a stage's ENV and ARG values and its labels
	// may hold together.
	MaxVarsSize = 4 << 20
)

// ErrTooLarge is an expansion or a stage's variables over the bounds.
var ErrTooLarge = fmt.Errorf("more than the builder allows")

// processWord expands word, refusing before it starts when every "$" in
// it could stand for the longest value in vars and the result could then
// pass MaxWordSize, and after it when the result does.
func processWord(lex *shell.Lex, word string, vars *Vars) (string, error) {
	if refs := strings.Count(word, "$"); refs > 0 && vars != nil && len(word)+refs*vars.longest > MaxWordSize {
		return "", fmt.Errorf("expanding %q could give over %d bytes: %w", shorten(word), MaxWordSize, ErrTooLarge)
	}
	out, _, err := lex.ProcessWord(word, vars)
	if err != nil {
		return "", err
	}
	if len(out) > MaxWordSize {
		return "", fmt.Errorf("expanding %q gives %d bytes, over %d: %w", shorten(word), len(out), MaxWordSize, ErrTooLarge)
	}
	return out, nil
}
