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

// printWarning prints one warning and, when it names a line, that line
// with two on each side.
func printWarning(out io.Writer, w dockerfile.Warning, lines [][]byte) {
	fmt.Fprintf(out, "\nWARNING: %s", w.Rule)
	if w.URL != "" {
		fmt.Fprintf(out, " - %s", w.URL)
	}
	fmt.Fprintf(out, "\n%s\n", w.Message)
	if w.Line <= 0 || w.Line > len(lines) {
		return
	}
	fmt.Fprintf(out, "%s:%d\n--------------------\n", w.File, w.Line)
	for n := max(1, w.Line-2); n <= min(len(lines), w.Line+2); n++ {
		mark := "   "
		if n == w.Line {
			mark = ">>>"
		}
		fmt.Fprintf(out, " %3d | %s %s\n", n, mark, lines[n-1])
	}
	fmt.Fprintln(out, "--------------------")
}
