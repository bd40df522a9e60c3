package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// BaseKind says what a stage starts from, or what COPY --from reads.
type BaseKind int

const (
	BaseImage   BaseKind = iota // an image in a registry
	BaseScratch                 // the empty filesystem
	BaseStage                   // an earlier stage of the same Dockerfile
)

// Base is a resolved FROM or COPY --from.
type Base struct {
	Kind  BaseKind
	Image string // the image reference, for BaseImage
	Stage int    // the stage index, for BaseStage
}

// Plan is what a build of one target needs.
type Plan struct {
	Target    int
	Bases     []Base   // per stage, in file order
	Platforms []string // per stage: the expanded --platform, or ""
	Needed    []int    // the stages the targets need, in file order
	Deps      [][]int  // per stage: the stages it reads from (base and COPY --from)
	// Also are more targets built beside Target (see AddTargets).
	Also []int
}

// Plan resolves every stage's base against the global ARGs and finds the
// stages the target needs; stages it does not need are never built.
func (df *Dockerfile) Plan(target string, globals *Vars) (*Plan, error) {
	p := &Plan{
		Bases:     make([]Base, len(df.Stages)),
		Platforms: make([]string, len(df.Stages)),
		Deps:      make([][]int, len(df.Stages)),
	}
	for i, st := range df.Stages {
		if err := df.planStage(p, i, st, globals); err != nil {
			return nil, err
		}
	}
	t, err := df.target(target)
	if err != nil {
		return nil, err
	}
	p.Target = t
	p.need(t)
	return p, nil
}

// need adds stage t and the stages it reads from to Needed, in file
// order.
func (p *Plan) need(t int) {
	seen := map[int]bool{}
	for _, i := range p.Needed {
		seen[i] = true
	}
	var visit func(int)
	visit = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		for _, d := range p.Deps[i] {
			visit(d)
		}
	}
	visit(t)
	p.Needed = p.Needed[:0]
	for i := range p.Deps {
		if seen[i] {
			p.Needed = append(p.Needed, i)
		}
	}
}

// NeedAll has the plan build every stage, as BuildKit's checks go
// through every stage of a file built without a target.
func (p *Plan) NeedAll() {
	p.Needed = p.Needed[:0]
	for i := range p.Deps {
		p.Needed = append(p.Needed, i)
	}
}

// AddTargets has the plan build the stages names too, each with what it
// needs, beside its target; a name given twice, or the target's, is
// planned once.
func (df *Dockerfile) AddTargets(p *Plan, names ...string) error {
	for _, n := range names {
		t, err := df.target(n)
		if err != nil {
			return err
		}
		if t == p.Target || slices.Contains(p.Also, t) {
			continue
		}
		p.Also = append(p.Also, t)
		p.need(t)
	}
	return nil
}

func (df *Dockerfile) planStage(p *Plan, i int, st *Stage, globals *Vars) error {
	fromErr := st.Wrap
	name, err := df.Word(st.Base, globals)
	if err != nil {
		return fromErr(err)
	}
	if name == "" {
		return fromErr(fmt.Errorf("base name (%s) should not be blank", st.Base))
	}
	p.Bases[i] = df.resolveBase(name, i)
	if p.Bases[i].Kind == BaseStage {
		p.Deps[i] = append(p.Deps[i], p.Bases[i].Stage)
	}
	if st.Platform != "" {
		plat, err := df.Word(st.Platform, globals)
		if err != nil {
			return fromErr(err)
		}
		if plat == "" {
			return fromErr(fmt.Errorf("empty platform value from expression %s", st.Platform))
		}
		p.Platforms[i] = plat
	}
	for _, step := range st.Steps {
		for _, from := range step.Froms {
			src, err := df.ResolveFrom(from, i)
			if err != nil {
				return step.Wrap(err)
			}
			if src.Kind == BaseStage {
				p.Deps[i] = append(p.Deps[i], src.Stage)
			}
		}
	}
	return nil
}

// resolveBase resolves an expanded FROM name of stage i: "scratch", the name
// or index of an earlier stage, or an image. (BuildKit takes names only; an
// index, as COPY --from takes, is accepted too: no real image is called "0".)
func (df *Dockerfile) resolveBase(name string, i int) Base {
	if name == "scratch" {
		return Base{Kind: BaseScratch}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < i {
		return Base{Kind: BaseStage, Stage: n}
	}
	if j := df.lastNamed(name, i); j >= 0 {
		return Base{Kind: BaseStage, Stage: j}
	}
	return Base{Kind: BaseImage, Image: name}
}

// lastNamed is the index of the last stage before stage end named name,
// or -1. Where names repeat, BuildKit takes the latest stage so named: a
// FROM the one before it, COPY --from and --target the file's last.
func (df *Dockerfile) lastNamed(name string, end int) int {
	for j := end - 1; j >= 0; j-- {
		if n := df.Stages[j].Name; n != "" && strings.EqualFold(n, name) {
			return j
		}
	}
	return -1
}

// StageNames lists the names the stages are given, in file order.
func (df *Dockerfile) StageNames() []string {
	var names []string
	for _, st := range df.Stages {
		if st.Name != "" {
			names = append(names, st.Name)
		}
	}
	return names
}

// ResolveFrom resolves from, the --from of a COPY step in stage i: a
// stage name or index defined before stage i, scratch, or an image
// reference. Its errors carry no location: the caller's step adds it.
func (df *Dockerfile) ResolveFrom(from string, i int) (Base, error) {
	if expanded, err := df.Word(from, &Vars{}); err != nil || expanded != from {
		return Base{}, errors.New("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
	}
	if n, err := strconv.Atoi(from); err == nil {
		if n < 0 || n >= len(df.Stages) {
			return Base{}, fmt.Errorf("invalid stage index %d", n)
		}
		if n >= i {
			return Base{}, fmt.Errorf("cannot copy from stage %d, it needs to be defined before the current stage %q", n, df.Stages[i].DisplayName())
		}
		return Base{Kind: BaseStage, Stage: n}, nil
	}
	if j := df.lastNamed(from, len(df.Stages)); j >= 0 {
		if j >= i {
			return Base{}, fmt.Errorf("cannot copy from stage %q, it needs to be defined before the current stage %q", from, df.Stages[i].DisplayName())
		}
		return Base{Kind: BaseStage, Stage: j}, nil
	}
	if from == "scratch" {
		return Base{Kind: BaseScratch}, nil
	}
	return Base{Kind: BaseImage, Image: from}, nil
}

// target finds the stage --target names; "" means the last stage.
func (df *Dockerfile) target(name string) (int, error) {
	if name == "" {
		return len(df.Stages) - 1, nil
	}
	if i := df.lastNamed(name, len(df.Stages)); i >= 0 {
		return i, nil
	}
	names := df.StageNames()
	if len(names) == 0 {
		return 0, &Error{File: df.Name, Err: fmt.Errorf("target stage %q could not be found: the Dockerfile names no stages", name)}
	}
	return 0, &Error{File: df.Name, Err: fmt.Errorf("target stage %q could not be found (stages: %s)", name, strings.Join(names, ", "))}
}

// ErrNoStages is returned by Parse for a file without FROM.
var ErrNoStages = errors.New("the file contains no FROM instruction: nothing to build")
