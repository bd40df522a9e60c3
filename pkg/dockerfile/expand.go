package dockerfile

import (
	"fmt"
	"maps"
	"slices"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Expand returns the step as an Instruction with its words expanded against
// vars, the ENV and ARG values in scope, as BuildKit does at dispatch time.
// ARG defaults are left as written: the builder expands them with Word when
// it decides whether a default applies.
func (s *Step) Expand(vars *Vars) (Instruction, error) {
	ins, _, err := s.ExpandUnset(vars)
	return ins, err
}

// ExpandUnset is Expand that also names, sorted, the variables the step's
// words use that vars does not hold (BuildKit's UndefinedVar check).
func (s *Step) ExpandUnset(vars *Vars) (Instruction, []string, error) {
	unset := map[string]bool{}
	ins, err := s.expand(vars, unset)
	if err != nil {
		return nil, nil, err
	}
	return ins, slices.Sorted(maps.Keys(unset)), nil
}

func (s *Step) expand(vars *Vars, unset map[string]bool) (Instruction, error) {
	parsed, err := instructions.ParseInstructionWithLinter(s.node, quietLinter())
	if err != nil {
		return nil, s.Wrap(cleanParseError(err))
	}
	cmd, ok := parsed.(instructions.Command)
	if !ok {
		return nil, s.Errorf("%s is not allowed here", s.Keyword)
	}
	lex := shell.NewLex(s.escape)
	if _, isArg := cmd.(*instructions.ArgCommand); !isArg {
		if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			err := ex.Expand(func(word string) (string, error) {
				return processWord(lex, word, vars, unset)
			})
			if err != nil {
				return nil, s.Wrap(err)
			}
		}
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex('\\')
		raw.SkipProcessQuotes = true
		err := ex.ExpandRaw(func(word string) (string, error) {
			return processWord(raw, word, vars, unset)
		})
		if err != nil {
			return nil, s.Wrap(err)
		}
	}
	ins, err := convert(cmd)
	if err != nil {
		return nil, s.Wrap(err)
	}
	if e, ok := ins.(*Expose); ok {
		if e.Ports, e.Written, err = expandPorts(lex, e.Ports, vars); err != nil {
			return nil, s.Wrap(err)
		}
	}
	return ins, nil
}

// Word expands one word against vars with the file's escape character, as
// BuildKit expands ARG defaults, FROM names and --platform values.
func (df *Dockerfile) Word(word string, vars *Vars) (string, error) {
	out, _, err := df.WordUnset(word, vars)
	return out, err
}

// WordUnset is Word that also names, sorted, the variables word uses that
// vars does not hold.
func (df *Dockerfile) WordUnset(word string, vars *Vars) (string, []string, error) {
	unset := map[string]bool{}
	out, err := processWord(shell.NewLex(df.escape), word, vars, unset)
	if err != nil {
		return "", nil, fmt.Errorf("expanding %q: %w", shorten(word), err)
	}
	return out, slices.Sorted(maps.Keys(unset)), nil
}

// Insecure tells whether the step is RUN --security=insecure, which must
// be refused unless the build was allowed it (BuildKit's entitlement
// security.insecure). The flag takes no variables, so no expansion is
// needed to know.
func (s *Step) Insecure() bool {
	if s.Keyword != "RUN" {
		return false
	}
	parsed, err := instructions.ParseInstructionWithLinter(s.node, quietLinter())
	if err != nil {
		return false // Expand reports the error when the step runs
	}
	rc, ok := parsed.(*instructions.RunCommand)
	return ok && instructions.GetSecurity(rc) == "insecure"
}
