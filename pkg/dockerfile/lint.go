package dockerfile

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/suggest"
)

// CheckArg is the build arg that replaces the file's "# check=" directive,
// as in BuildKit.
const CheckArg = "BUILDKIT_DOCKERFILE_CHECK"

// Warning is one of BuildKit's Dockerfile checks that the file fails, in
// BuildKit's words.
type Warning struct {
	Rule    string // e.g. "FromAsCasing"
	Message string
	URL     string
	File    string
	Line    int // 0 when the check names no line
	EndLine int // the last line of what it names (Line for one)
}

// String reads "Dockerfile:2: FromAsCasing: 'as' and 'FROM' keywords'
// casing do not match".
func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, w.Rule, w.Message)
	}
	return fmt.Sprintf("%s: %s: %s", w.File, w.Rule, w.Message)
}

// quietLinter is a linter that reports nothing, for parsing an
// instruction again. Not a zero Linter: BuildKit's parser merges the
// "# check=skip=..." comment above an instruction into the linter it is
// given, which panics on a zero one's nil maps.
func quietLinter() *linter.Linter { return linter.New(&linter.Config{}) }

// lintCall is a check BuildKit's parser raised while the file was read;
// Lint passes it through the file's check settings.
type lintCall struct {
	rule linter.LinterRuleI
	loc  []parser.Range
	msg  string
}

// recordParseChecks returns a linter for BuildKit's instruction parser
// that records every check it raises.
func (df *Dockerfile) recordParseChecks() *linter.Linter {
	return linter.New(&linter.Config{ExperimentalAll: true, Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		df.parseChecks = append(df.parseChecks, lintCall{rule: parseRule(rule), loc: loc, msg: msg})
	}})
}

// parseRule is the rule of that name among those BuildKit's instruction
// parser checks.
func parseRule(name string) linter.LinterRuleI {
	for _, r := range []*linter.LinterRule[func() string]{&linter.RuleMaintainerDeprecated} {
		if r.Name == name {
			return r
		}
	}
	for _, r := range []*linter.LinterRule[func(string) string]{&linter.RuleStageNameCasing} {
		if r.Name == name {
			return r
		}
	}
	for _, r := range []*linter.LinterRule[func(string, string) string]{&linter.RuleFromAsCasing, &linter.RuleInvalidDefinitionDescription} {
		if r.Name == name {
			return r
		}
	}
	return &linter.LinterRule[struct{}]{Name: name}
}

// Lint is the checks of one build: the warnings so far and the settings
// that decide which count and whether they fail the build. It is safe for
// concurrent use.
type Lint struct {
	file string
	mu   sync.Mutex
	lc   *linter.Linter
	seen []Warning
	// later are the steps whose checks need what only the build knows
	// (the base image's SHELL, a variable's value): Dispatched runs them.
	later map[*Step]bool
}

// Warnings returns the warnings so far, in the order they were found.
func (l *Lint) Warnings() []Warning {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// Err is BuildKit's "lint violation found for rules: ...", at the line of
// the first warning, when the check settings ask warnings to fail the
// build ("error=true") and there are some; nil otherwise.
func (l *Lint) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lc.Error() == nil {
		return nil
	}
	var rules []string
	for _, w := range l.seen {
		if !slices.Contains(rules, w.Rule) {
			rules = append(rules, w.Rule)
		}
	}
	sort.Strings(rules)
	// The first warning's line, so that the error points into the file.
	return &Error{File: l.file, Line: l.seen[0].Line, Err: fmt.Errorf("lint violation found for rules: %s", strings.Join(rules, ", "))}
}

// run runs rule with the file's settings and those the comments right
// above the instruction add ("# check=skip=..."), as BuildKit does.
func (l *Lint) run(comments []string, rule linter.LinterRuleI, loc []parser.Range, msg string) {
	l.lc.WithMergedConfigFromComments(comments).Run(rule, loc, msg)
}

// during runs checks while the build runs, under the lock, and returns
// the warnings they add; a nil Lint checks nothing.
func (l *Lint) during(checks func()) []Warning {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.seen)
	checks()
	return slices.Clone(l.seen[n:])
}

// Dispatched runs the checks of a step that needed the build: ins is the
// step expanded, shell the stage's SHELL when it runs. It returns the
// warnings it adds.
func (l *Lint) Dispatched(s *Step, ins Instruction, shell []string) []Warning {
	return l.during(func() {
		if !l.later[s] {
			return
		}
		loc := s.node.Location()
		switch c := ins.(type) {
		case *Cmd:
			if c.Shell && len(shell) == 0 {
				l.run(s.node.PrevComment, &linter.RuleJSONArgsRecommended, loc, linter.RuleJSONArgsRecommended.Format("CMD"))
			}
		case *Entrypoint:
			if c.Shell && len(shell) == 0 {
				l.run(s.node.PrevComment, &linter.RuleJSONArgsRecommended, loc, linter.RuleJSONArgsRecommended.Format("ENTRYPOINT"))
			}
		case *Workdir:
			if !path.IsAbs(c.Path) {
				l.run(s.node.PrevComment, &linter.RuleWorkdirRelativePath, loc, linter.RuleWorkdirRelativePath.Format(c.Path))
			}
		case *Expose:
			for _, port := range c.Written {
				lintPort(l, s.node.PrevComment, port, loc)
			}
		}
	})
}

// Unset is BuildKit's UndefinedVar for a step being dispatched: names are
// the variables its expansion found unset (see Step.ExpandUnset),
// declared the ARGs in scope (an ARG without a value declares its name),
// known the variables set, for the "did you mean" hint. It returns the
// warnings it adds.
func (l *Lint) Unset(s *Step, names, declared, known []string) []Warning {
	return l.during(func() {
		for _, k := range names {
			if slices.Contains(declared, k) || k == "BUILDKIT_SBOM_SCAN_CONTEXT" || k == "BUILDKIT_SBOM_SCAN_STAGE" {
				continue
			}
			hint, _ := suggest.Search(k, known, true)
			l.run(s.node.PrevComment, &linter.RuleUndefinedVar, s.node.Location(), linter.RuleUndefinedVar.Format(k, hint))
		}
	})
}

// IgnoredSource is BuildKit's CopyIgnoredFile for a COPY or ADD step
// whose source src (a path in the build context, cleaned) .dockerignore
// leaves out. It returns the warnings it adds.
func (l *Lint) IgnoredSource(s *Step, add bool, src string) []Warning {
	cmd := "Copy"
	if add {
		cmd = "Add"
	}
	return l.during(func() {
		l.run(s.node.PrevComment, &linter.RuleCopyIgnoredFile, s.node.Location(), linter.RuleCopyIgnoredFile.Format(cmd, src))
	})
}

// BasePlatform is BuildKit's InvalidBaseImagePlatform for stage st, whose
// base image is for another OS or architecture than the stage's: the
// platforms as "os/arch[/variant]". It returns the warnings it adds.
func (l *Lint) BasePlatform(st *Stage, image, expected, actual string) []Warning {
	return l.during(func() {
		l.run(st.comments, &linter.RuleInvalidBaseImagePlatform, st.location(), linter.RuleInvalidBaseImagePlatform.Format(image, expected, actual))
	})
}

// Lint runs BuildKit's Dockerfile checks (its "lint" rules) that need no
// image, on the file and on the stages p needs, and marks the steps whose
// checks need the build (see Lint.Dispatched). auto are the platform ARGs,
// globals the ARGs before the first FROM with the build args applied;
// buildArgs may hold CheckArg, which replaces the file's "# check="
// directive. The error is a malformed setting; whether the warnings fail
// the build is Lint.Err.
func (df *Dockerfile) Lint(p *Plan, auto, globals *Vars, buildArgs map[string]string) (*Lint, error) {
	setting, ok := buildArgs[CheckArg]
	if !ok {
		setting = df.check
	}
	cfg, err := linter.ParseLintOptions(setting)
	if err != nil {
		return nil, &Error{File: df.Name, Err: fmt.Errorf("failed to parse check options: %w", err)}
	}
	l := &Lint{file: df.Name, later: map[*Step]bool{}}
	cfg.Warn = func(rule, _, url, msg string, loc []parser.Range) {
		w := Warning{Rule: rule, Message: msg, URL: url, File: df.Name}
		if len(loc) > 0 {
			w.Line = loc[0].Start.Line
			w.EndLine = max(w.Line, loc[len(loc)-1].End.Line)
		}
		l.seen = append(l.seen, w)
	}
	l.lc = linter.New(cfg)
	for _, c := range df.parseChecks {
		l.run(nil, c.rule, c.loc, c.msg)
	}
	df.lintStageNames(l)
	df.lintCasing(l)
	df.lintDefaultBases(l, auto)
	known := globals.Keys() // and the ARGs before the first FROM without a value
	for _, step := range df.MetaArgs {
		if ins, err := step.Expand(nil); err == nil {
			for _, a := range ins.(*Arg).Args {
				if !slices.Contains(known, a.Key) {
					known = append(known, a.Key)
				}
			}
		}
	}
	for _, st := range df.Stages {
		df.lintFrom(l, st, globals, known)
	}
	df.lintSteps(l, p)
	return l, nil
}

// lintStageNames is BuildKit's ReservedStageName and DuplicateStageName.
func (df *Dockerfile) lintStageNames(l *Lint) {
	seen := map[string]bool{}
	for _, st := range df.Stages {
		if st.Name == "" {
			continue
		}
		if st.Name == "scratch" || st.Name == "context" {
			l.run(nil, &linter.RuleReservedStageName, st.location(), linter.RuleReservedStageName.Format(st.Name))
		}
		if seen[st.Name] {
			l.run(nil, &linter.RuleDuplicateStageName, st.location(), linter.RuleDuplicateStageName.Format(st.Name))
		}
		seen[st.Name] = true
	}
}

// lintCasing is BuildKit's ConsistentInstructionCasing: every keyword in
// one case, the case most keywords of the file have.
func (df *Dockerfile) lintCasing(l *Lint) {
	type keyword struct {
		word string
		loc  []parser.Range
	}
	var all []keyword
	for _, st := range df.Stages {
		all = append(all, keyword{leadingWord(st.Source), st.location()})
		for _, s := range st.Steps {
			all = append(all, keyword{leadingWord(s.Source), s.node.Location()})
		}
	}
	var lower, upper int
	for _, k := range all {
		switch k.word {
		case strings.ToLower(k.word):
			lower++
		case strings.ToUpper(k.word):
			upper++
		}
	}
	want, wantName := strings.ToUpper, "uppercase"
	if lower > upper {
		want, wantName = strings.ToLower, "lowercase"
	}
	for _, k := range all {
		if want(k.word) != k.word {
			l.run(nil, &linter.RuleConsistentInstructionCasing, k.loc, linter.RuleConsistentInstructionCasing.Format(k.word, wantName))
		}
	}
}

// leadingWord is an instruction's keyword as written.
func leadingWord(src string) string {
	end := strings.IndexFunc(src, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	})
	if end < 0 {
		return src
	}
	return src[:end]
}

// lintDefaultBases is BuildKit's InvalidDefaultArgInFrom: with no build
// args, every FROM must still name an image.
func (df *Dockerfile) lintDefaultBases(l *Lint, auto *Vars) {
	defaults, err := df.Globals(auto, nil)
	if err != nil {
		return // the build reports it
	}
	for _, st := range df.Stages {
		base, err := df.Word(st.Base, defaults)
		if err != nil {
			return
		}
		if _, err := name.ParseReference(base); err != nil || base != strings.ToLower(base) {
			l.run(nil, &linter.RuleInvalidDefaultArgInFrom, st.location(), linter.RuleInvalidDefaultArgInFrom.Format(st.Base))
		}
	}
}

// lintFrom is BuildKit's checks of a FROM line: UndefinedArgInFrom,
// RedundantTargetPlatform and FromPlatformFlagConstDisallowed.
// known are the variables set or declared before them.
func (df *Dockerfile) lintFrom(l *Lint, st *Stage, globals *Vars, known []string) {
	lex := shell.NewLex(df.escape)
	undeclared := func(res shell.ProcessWordResult) {
		var names []string
		for k := range res.Unmatched {
			if !slices.Contains(known, k) {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			hint, _ := suggest.Search(k, known, true)
			l.run(st.comments, &linter.RuleUndefinedArgInFrom, st.location(), linter.RuleUndefinedArgInFrom.Format(k, hint))
		}
	}
	vars := &boundedVars{vars: globals, budget: MaxWordSize}
	if res, err := lex.ProcessWordWithMatches(st.Base, vars); err == nil {
		undeclared(res)
	}
	if st.Platform == "" {
		return
	}
	res, err := lex.ProcessWordWithMatches(st.Platform, vars)
	if err != nil {
		return
	}
	undeclared(res)
	if _, only := res.Matched["TARGETPLATFORM"]; only && len(res.Matched) == 1 && len(res.Unmatched) == 0 {
		if v, _ := globals.Get("TARGETPLATFORM"); v == res.Result {
			l.run(st.comments, &linter.RuleRedundantTargetPlatform, st.location(), linter.RuleRedundantTargetPlatform.Format(st.Platform))
		}
	}
	if len(res.Matched) == 0 && len(res.Unmatched) == 0 {
		if os, arch, ok := splitPlatform(res.Result); ok && !strings.Contains(st.Name, os) && !strings.Contains(st.Name, arch) {
			l.run(st.comments, &linter.RuleFromPlatformFlagConstDisallowed, st.location(), linter.RuleFromPlatformFlagConstDisallowed.Format(res.Result))
		}
	}
}

// splitPlatform reads "os/arch[/variant]", as containerd's parser would
// normalize it for the names a stage may carry.
func splitPlatform(s string) (os, arch string, ok bool) {
	parts := strings.Split(strings.ToLower(s), "/")
	switch {
	case len(parts) == 1 && slices.Contains([]string{"linux", "windows", "darwin", "freebsd"}, parts[0]):
		return parts[0], "", parts[0] != ""
	case len(parts) == 1:
		return "linux", normalizeArch(parts[0]), parts[0] != ""
	case len(parts) <= 3:
		return parts[0], normalizeArch(parts[1]), parts[0] != "" && parts[1] != ""
	}
	return "", "", false
}

func normalizeArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "armhf", "armel":
		return "arm"
	}
	return a
}

// lintSteps is BuildKit's checks of the steps of the stages it builds, in
// file order: LegacyKeyValueFormat, SecretsUsedInArgOrEnv,
// WorkdirRelativePath, JSONArgsRecommended, MultipleInstructionsDisallowed,
// ExposeProtoCasing and ExposeInvalidFormat. A check whose answer depends
// on the base image or a variable's value is left to Dispatched.
func (df *Dockerfile) lintSteps(l *Lint, p *Plan) {
	type stageState struct {
		workdir bool // a WORKDIR of this file set the working directory
		shell   int  // 1: a SHELL is set, 0: none, -1: the base image's
	}
	states := make([]stageState, len(df.Stages))
	for _, i := range p.Needed {
		st := df.Stages[i]
		s := stageState{shell: -1}
		switch b := p.Bases[i]; b.Kind {
		case BaseScratch:
			s.shell = 0
		case BaseStage:
			s = states[b.Stage]
		}
		var used [3][]parser.Range // CMD, ENTRYPOINT, HEALTHCHECK
		for _, step := range st.Steps {
			parsed, err := instructions.ParseInstructionWithLinter(step.node, quietLinter())
			if err != nil {
				continue // the build reports it
			}
			loc := step.node.Location()
			once := func(n int, keyword string) {
				if used[n] != nil {
					l.run(step.node.PrevComment, &linter.RuleMultipleInstructionsDisallowed, used[n], linter.RuleMultipleInstructionsDisallowed.Format(keyword))
				}
				used[n] = loc
			}
			shellForm := func(keyword string) {
				switch s.shell {
				case 0:
					l.run(step.node.PrevComment, &linter.RuleJSONArgsRecommended, loc, linter.RuleJSONArgsRecommended.Format(keyword))
				case -1:
					l.later[step] = true
				}
			}
			switch c := parsed.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if kv.NoDelim {
						l.run(step.node.PrevComment, &linter.RuleLegacyKeyValueFormat, loc, linter.RuleLegacyKeyValueFormat.Format("ENV"))
					}
					lintSecret(l, step.node.PrevComment, "ENV", kv.Key, loc)
				}
			case *instructions.LabelCommand:
				for _, kv := range c.Labels {
					if kv.NoDelim {
						l.run(step.node.PrevComment, &linter.RuleLegacyKeyValueFormat, loc, linter.RuleLegacyKeyValueFormat.Format("LABEL"))
					}
				}
			case *instructions.ArgCommand:
				for _, a := range c.Args {
					lintSecret(l, step.node.PrevComment, "ARG", a.Key, loc)
				}
			case *instructions.WorkdirCommand:
				switch {
				case s.workdir:
				case strings.ContainsAny(c.Path, "$"):
					l.later[step] = true
				case !path.IsAbs(c.Path):
					l.run(step.node.PrevComment, &linter.RuleWorkdirRelativePath, loc, linter.RuleWorkdirRelativePath.Format(c.Path))
				}
				s.workdir = true
			case *instructions.ShellCommand:
				s.shell = 1
			case *instructions.CmdCommand:
				once(0, "CMD")
				if c.PrependShell {
					shellForm("CMD")
				}
			case *instructions.EntrypointCommand:
				once(1, "ENTRYPOINT")
				if c.PrependShell {
					shellForm("ENTRYPOINT")
				}
			case *instructions.HealthCheckCommand:
				once(2, "HEALTHCHECK")
			case *instructions.ExposeCommand:
				if slices.ContainsFunc(c.Ports, func(p string) bool { return strings.Contains(p, "$") }) {
					l.later[step] = true // the ports as expanded
					break
				}
				for _, port := range c.Ports {
					lintPort(l, step.node.PrevComment, port, loc)
				}
			}
		}
		states[i] = s
	}
}

// lintPort is BuildKit's checks of one EXPOSE port as expanded.
func lintPort(l *Lint, comments []string, raw string, loc []parser.Range) {
	parts := strings.Split(raw, ":")
	_, proto, _ := strings.Cut(parts[len(parts)-1], "/")
	if proto != strings.ToLower(proto) {
		l.run(comments, &linter.RuleExposeProtoCasing, loc, linter.RuleExposeProtoCasing.Format(raw))
	}
	if len(parts) > 1 {
		l.run(comments, &linter.RuleExposeInvalidFormat, loc, linter.RuleExposeInvalidFormat.Format(raw))
	}
}

// lintSecret is BuildKit's SecretsUsedInArgOrEnv: a key one of whose
// words (split at "_") names a secret, unless another says it is not.
func lintSecret(l *Lint, comments []string, instruction, key string, loc []parser.Range) {
	words := strings.Split(strings.ToLower(key), "_")
	has := func(set ...string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return slices.Contains(set, w) })
	}
	if has("apikey", "auth", "credential", "credentials", "key", "password", "pword", "passwd", "secret", "token") &&
		!has("public", "file", "version") {
		l.run(comments, &linter.RuleSecretsUsedInArgOrEnv, loc, linter.RuleSecretsUsedInArgOrEnv.Format(instruction, key))
	}
}

// location is the FROM line's place, as BuildKit's checks report it.
func (s *Stage) location() []parser.Range {
	return []parser.Range{{Start: parser.Position{Line: s.Line}, End: parser.Position{Line: s.Line}}}
}
