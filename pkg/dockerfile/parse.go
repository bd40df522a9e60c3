// Package dockerfile turns Dockerfile text into stages of steps, expands
// variables the way BuildKit does, and works out which stages a build needs.
// It is the only package that imports BuildKit's frontend, and it does no I/O.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Name     string   // the name used in error messages, e.g. "Dockerfile"
	MetaArgs []*Step  // ARG instructions before the first FROM
	Stages   []*Stage // in file order
	escape   rune
	check    string // the "# check=" directive's value
	// Syntax is the "# syntax=" directive's frontend image, or "".
	Syntax string
	// parseChecks are the checks BuildKit's parser raised (see Lint).
	parseChecks []lintCall
}

// Stage is one FROM and the steps that follow it.
type Stage struct {
	Index    int
	Name     string // from "AS name", lower-cased; "" when unnamed
	Base     string // the base as written; it may use ARGs declared before FROM
	Platform string // --platform as written
	Line     int
	Source   string // the FROM line as written
	Steps    []*Step
	file     string
	comments []string // the comment lines right above FROM
}

// Wrap adds the FROM line's file, line and text to err.
func (s *Stage) Wrap(err error) error { return locate(err, s.file, s.Line, s.Source) }

// DisplayName is the stage's name, or "stage-N" for an unnamed stage.
func (s *Stage) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("stage-%d", s.Index)
}

// Step is one instruction as written, not yet expanded.
type Step struct {
	Keyword string // upper case: RUN, COPY, ...
	Line    int
	Source  string // the instruction as written
	// Froms are the other stages or images the step reads, as written:
	// COPY --from, RUN --mount from=.
	Froms []string
	// Devices are RUN --device's CDI device names.
	Devices []string
	file    string
	escape  rune
	node    *parser.Node
}

// String is the instruction's first line, shortened for messages.
func (s *Step) String() string { return shorten(s.Source) }

// Errorf returns an error that names the step's file, line and instruction.
func (s *Step) Errorf(format string, args ...any) error {
	return s.Wrap(fmt.Errorf(format, args...))
}

// Wrap adds the step's file, line and instruction to err. An error that
// already carries a location is returned as it is.
func (s *Step) Wrap(err error) error { return locate(err, s.file, s.Line, s.Source) }

// locate gives err a place in the file, unless it has one already.
func locate(err error, file string, line int, src string) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	return &Error{File: file, Line: line, Instruction: shorten(src), Err: err}
}

// Parse parses a Dockerfile. name is used in error messages.
func Parse(name string, src []byte) (*Dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		line := errorLine(err)
		return nil, &Error{File: name, Line: line, Instruction: sourceLine(src, line), Err: err}
	}
	df := &Dockerfile{Name: name, escape: res.EscapeToken}
	df.check, _, _, _ = parser.ParseDirective("check", src)
	df.Syntax, _, _, _ = parser.DetectSyntax(src)
	for _, w := range res.Warnings {
		if w.URL == linter.RuleNoEmptyContinuation.URL && w.Location != nil {
			df.parseChecks = append(df.parseChecks, lintCall{rule: &linter.RuleNoEmptyContinuation,
				loc: []parser.Range{*w.Location}, msg: linter.RuleNoEmptyContinuation.Format()})
		}
	}
	checks := df.recordParseChecks()
	for _, node := range res.AST.Children {
		step, parsed, err := newStep(name, res.EscapeToken, node, checks)
		if err != nil {
			return nil, err
		}
		switch c := parsed.(type) {
		case *instructions.Stage:
			df.Stages = append(df.Stages, &Stage{
				Index:    len(df.Stages),
				Name:     c.Name,
				Base:     c.BaseName,
				Platform: c.Platform,
				Line:     node.StartLine,
				Source:   strings.TrimSpace(node.Original),
				file:     name,
				comments: node.PrevComment,
			})
		case *instructions.ArgCommand:
			if len(df.Stages) == 0 {
				df.MetaArgs = append(df.MetaArgs, step)
				continue
			}
			df.addStep(step)
		default:
			if len(df.Stages) == 0 {
				return nil, step.Errorf("no build stage in current context: %s comes before the first FROM", step.Keyword)
			}
			df.addStep(step)
		}
	}
	if len(df.Stages) == 0 {
		return nil, &Error{File: name, Err: ErrNoStages}
	}
	return df, nil
}

func (df *Dockerfile) addStep(s *Step) {
	st := df.Stages[len(df.Stages)-1]
	st.Steps = append(st.Steps, s)
}

// ParseTrigger parses an ONBUILD trigger taken from a base image, as a step
// of the stage that builds on that image.
func (df *Dockerfile) ParseTrigger(st *Stage, expr string) (*Step, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, &Error{File: df.Name, Line: st.Line, Instruction: "ONBUILD " + shorten(expr), Err: err}
	}
	if len(res.AST.Children) != 1 {
		return nil, &Error{File: df.Name, Line: st.Line, Instruction: "ONBUILD " + shorten(expr),
			Err: errors.New("an ONBUILD trigger must be a single instruction")}
	}
	node := res.AST.Children[0]
	node.StartLine, node.EndLine = st.Line, st.Line
	step, parsed, err := newStep(df.Name, df.escape, node, quietLinter())
	if err != nil {
		return nil, err
	}
	switch parsed.(type) {
	case *instructions.Stage:
		return nil, step.Errorf("FROM is not allowed as an ONBUILD trigger")
	case *instructions.MaintainerCommand:
		return nil, step.Errorf("MAINTAINER is not allowed as an ONBUILD trigger")
	}
	return step, nil
}

// newStep parses a node once, to report errors in the instruction and its
// flags early (and BuildKit's checks of it to lint), and keeps the node so
// that Expand can parse it again fresh.
func newStep(file string, escape rune, node *parser.Node, lint *linter.Linter) (*Step, any, error) {
	s := &Step{
		Keyword: strings.ToUpper(node.Value),
		Line:    node.StartLine,
		Source:  strings.TrimSpace(node.Original),
		file:    file,
		escape:  escape,
		node:    node,
	}
	parsed, err := instructions.ParseInstructionWithLinter(node, lint)
	if err != nil {
		return nil, nil, s.Wrap(cleanParseError(err))
	}
	switch c := parsed.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			s.Froms = append(s.Froms, c.From)
		}
	case *instructions.RunCommand:
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				s.Froms = append(s.Froms, m.From)
			}
		}
		for _, d := range instructions.GetDevices(c) {
			s.Devices = append(s.Devices, d.Name)
		}
	}
	return s, parsed, nil
}

// cleanParseError drops the location wrapper: our Error carries the place.
func cleanParseError(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && le.Unwrap() != nil {
		return le.Unwrap()
	}
	return err
}

// sourceLine is line n (1-based) of src, shortened, for an error the
// parser reports before there is an instruction to name; "" for none.
func sourceLine(src []byte, n int) string {
	if n <= 0 {
		return ""
	}
	lines := strings.Split(string(src), "\n")
	if n > len(lines) {
		return ""
	}
	return shorten(lines[n-1])
}

func errorLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return le.Locations[0][0].Start.Line
	}
	return 0
}

// ForeignSyntax reports whether the "# syntax=" directive names a frontend
// other than the Dockerfile syntax this package reads (docker/dockerfile,
// any version but labs), which BuildKit would run in its place: a labs or
// third-party frontend.
func (df *Dockerfile) ForeignSyntax() bool {
	if df.Syntax == "" {
		return false
	}
	ref, _, _ := strings.Cut(df.Syntax, "@")
	repo, tag := ref, ""
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		repo, tag = ref[:i], ref[i+1:]
	}
	repo = strings.TrimPrefix(strings.TrimPrefix(repo, "docker.io/"), "index.docker.io/")
	if repo != "docker/dockerfile" && repo != "docker/dockerfile-upstream" {
		return true
	}
	return strings.Contains(tag, "labs")
}
