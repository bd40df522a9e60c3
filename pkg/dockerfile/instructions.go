package dockerfile

import "time"

// Instruction is one expanded Dockerfile instruction. The concrete types
// below are the whole set; the builder dispatches on them with a type switch.
type Instruction interface {
	instruction()
}

// KeyValue is one pair of ENV or LABEL.
type KeyValue struct {
	Key, Value string
}

// Run is RUN. With Shell set, Args is the command line the stage's SHELL
// runs; otherwise Args is the exec form. Here-documents are already folded
// in as BuildKit does: a lone heredoc becomes the shell's script, one that
// starts with "#!" becomes Script, whose path in /dev/pipes the shell
// runs, and any other form is handed to the shell whole.
type Run struct {
	Args     []string
	Shell    bool
	Script   *InlineFile // a "#!" heredoc; Args then names its path
	Mounts   []Mount
	Network  string   // "default", "none" or "host"
	Security string   // "sandbox" or "insecure"
	Devices  []string // --device: CDI device names
}

// ScriptDir is where a RUN heredoc script is found during the step.
const ScriptDir = "/dev/pipes"

// Mount is one RUN --mount option.
type Mount struct {
	Type     string // bind, cache, tmpfs, secret, ssh
	From     string
	Source   string
	Target   string
	ReadOnly bool
	ID       string
	Sharing  string
	Required bool
	Env      string
	Mode     *uint64
	UID, GID *uint64
	Size     int64 // type=tmpfs: size= in bytes; 0 when not given
}

// Copy is COPY, or ADD when Add is set.
type Copy struct {
	Add      bool
	Sources  []string     // paths, globs or (ADD) URLs
	Inline   []InlineFile // here-documents given as sources
	Dest     string
	From     string // --from: a stage name, an index or an image
	Chown    string
	Chmod    string
	Link     bool
	Excludes []string
	Parents  bool
	Checksum string // ADD --checksum
	Unpack   *bool  // ADD --unpack
	// KeepGitDir (ADD --keep-git-dir) keeps .git of a git source.
	KeepGitDir bool
}

// InlineFile is a here-document used as a COPY source.
type InlineFile struct {
	Name string
	Data string
}

// Env is ENV.
type Env struct{ Vars []KeyValue }

// Arg is ARG. A nil Value means the ARG has no default.
type Arg struct{ Args []ArgDecl }

// ArgDecl declares one build argument.
type ArgDecl struct {
	Key   string
	Value *string
}

// Workdir is WORKDIR.
type Workdir struct{ Path string }

// User is USER.
type User struct{ User string }

// Label is LABEL.
type Label struct{ Labels []KeyValue }

// Expose is EXPOSE.
type Expose struct {
	Ports   []string // "80/tcp"
	Written []string // as written, expanded: "80/TCP", "8080:80"
}

// Volume is VOLUME.
type Volume struct{ Paths []string }

// Cmd is CMD; Shell as in Run.
type Cmd struct {
	Args  []string
	Shell bool
}

// Entrypoint is ENTRYPOINT; Shell as in Run.
type Entrypoint struct {
	Args  []string
	Shell bool
}

// Shell is SHELL.
type Shell struct{ Args []string }

// StopSignal is STOPSIGNAL.
type StopSignal struct{ Signal string }

// Healthcheck is HEALTHCHECK; Test is ["NONE"] to disable an inherited one.
type Healthcheck struct {
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// Onbuild is ONBUILD; Expression is the trigger instruction as written.
type Onbuild struct{ Expression string }

// Maintainer is MAINTAINER.
type Maintainer struct{ Name string }

func (*Run) instruction()         {}
func (*Copy) instruction()        {}
func (*Env) instruction()         {}
func (*Arg) instruction()         {}
func (*Workdir) instruction()     {}
func (*User) instruction()        {}
func (*Label) instruction()       {}
func (*Expose) instruction()      {}
func (*Volume) instruction()      {}
func (*Cmd) instruction()         {}
func (*Entrypoint) instruction()  {}
func (*Shell) instruction()       {}
func (*StopSignal) instruction()  {}
func (*Healthcheck) instruction() {}
func (*Onbuild) instruction()     {}
func (*Maintainer) instruction()  {}
