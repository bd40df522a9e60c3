package dockerfile

import (
	"errors"
	"fmt"

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
var ErrTooLarge = errors.New("more than the builder allows")

// processWord expands word against vars with what the variables give it
// bounded by MaxWordSize: once their values would pass it, every further
// reference gives nothing and the expansion fails, so a word with many
// references to a long value never takes more memory than the bound. The
// variables the word uses that vars lacks are added to unset, when given.
func processWord(lex *shell.Lex, word string, vars *Vars, unset map[string]bool) (string, error) {
	bv := &boundedVars{vars: vars, budget: MaxWordSize}
	out, unmatched, err := lex.ProcessWord(word, bv)
	if err != nil {
		return "", err
	}
	if bv.over || len(out) > MaxWordSize {
		return "", fmt.Errorf("expanding %q gives over %d bytes: %w", shorten(word), MaxWordSize, ErrTooLarge)
	}
	if unset != nil {
		for k := range unmatched {
			unset[k] = true
		}
	}
	return out, nil
}

// boundedVars gives the lexer vars' values until they add up to budget.
type boundedVars struct {
	vars   *Vars
	budget int
	over   bool
}

func (b *boundedVars) Get(key string) (string, bool) {
	v, ok := b.vars.Get(key)
	if !ok {
		return "", false
	}
	if len(v) > b.budget {
		b.over = true
		return "", true
	}
	b.budget -= len(v)
	return v, true
}

func (b *boundedVars) Keys() []string { return b.vars.Keys() }
