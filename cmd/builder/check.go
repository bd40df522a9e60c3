package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/buildcrew/builder/pkg/build"
	"github.com/buildcrew/builder/pkg/dockerfile"
)

// checksFailed is the end of a check that found warnings: exit status 1,
// as docker build --check.
type checksFailed int

func (n checksFailed) Error() string {
	if n == 1 {
		return "the Dockerfile fails 1 check"
	}
	return fmt.Sprintf("the Dockerfile fails %d checks", int(n))
}

// printChecks runs BuildKit's Dockerfile checks without building
// (--check) and prints what they found as docker build --check does: each
// warning with its rule, its words and the lines it is about.
func printChecks(ctx context.Context, bo build.Options, out io.Writer) error {
	res, err := build.Check(ctx, bo)
	if res == nil {
		return err
	}
	ws := res.Warnings
	if err != nil {
		// What was found before the error, then the error.
		printAll(out, ws, res.Dockerfile)
		return err
	}
	if len(ws) == 0 {
		fmt.Fprintln(out, "Check complete, no warnings found.")
		return nil
	}
	if len(ws) == 1 {
		fmt.Fprintln(out, "Check complete, 1 warning has been found!")
	} else {
		fmt.Fprintf(out, "Check complete, %d warnings have been found!\n", len(ws))
	}
	printAll(out, ws, res.Dockerfile)
	return checksFailed(len(ws))
}

// printAll prints the warnings in the order of their lines.
func printAll(out io.Writer, ws []dockerfile.Warning, src []byte) {
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Line < ws[j].Line })
	lines := bytes.Split(src, []byte("\n"))
	for _, w := range ws {
		printWarning(out, w, lines)
	}
}

// printWarning prints one warning and, when it names lines, those lines
// marked and a few around them, as buildx does: four for one line, two
// for several, taken before and after in turn.
func printWarning(out io.Writer, w dockerfile.Warning, lines [][]byte) {
	fmt.Fprintf(out, "\nWARNING: %s", w.Rule)
	if w.URL != "" {
		fmt.Fprintf(out, " - %s", w.URL)
	}
	fmt.Fprintf(out, "\n%s\n", w.Message)
	if w.Line <= 0 || w.Line > len(lines) {
		return
	}
	first, last := w.Line, min(max(w.EndLine, w.Line), len(lines))
	from, to := around(first, last, len(lines))
	fmt.Fprintf(out, "%s:%d\n--------------------\n", w.File, w.Line)
	for n := from; n <= to; n++ {
		mark := "   "
		if n >= first && n <= last {
			mark = ">>>"
		}
		fmt.Fprintf(out, " %3d | %s %s\n", n, mark, lines[n-1])
	}
	fmt.Fprintln(out, "--------------------")
}

// around widens lines first to last of a file of n lines by the lines
// buildx quotes beside them: each round takes one before and one after
// where there is one, and counts one more, until four (two for a range)
// are counted.
func around(first, last, n int) (from, to int) {
	from, to = first, last
	budget := 4
	if last > first {
		budget = 2
	}
	for counted := 0; counted < budget; counted++ {
		if from > 1 {
			from--
			counted++
		}
		if to < n {
			to++
			counted++
		}
	}
	return from, to
}
