//go:build ignore

// The program the crossplatform workload cross-compiles (go build
// hello.go ignores the constraint, which keeps it out of ./...).
package main

func main() { println("hello") }
