package dockerfile

import (
	"fmt"
	"strings"
)

// Error is a problem at a known place in a Dockerfile. Its message reads
// "Dockerfile:7: RUN make: cause", so a user can find the line at once.
type Error struct {
	File        string // the Dockerfile's name as the user gave it
	Line        int    // 1-based line of the instruction; 0 when unknown
	Instruction string // the instruction as written, shortened to one line
	Err         error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Instruction != "" {
		b.WriteString(": ")
		b.WriteString(e.Instruction)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// maxShown bounds how much of an instruction an error message quotes.
const maxShown = 80

// shorten returns the first line of an instruction's source, cut to maxShown
// characters, for error messages and progress lines.
func shorten(src string) string {
	src = strings.TrimSpace(src)
	if i := strings.IndexByte(src, '\n'); i >= 0 {
		src = src[:i] + " ..."
	}
	if len(src) > maxShown {
		src = src[:maxShown-3] + "..."
	}
	return src
}
