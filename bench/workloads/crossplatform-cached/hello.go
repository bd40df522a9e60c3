//go:build ignore

// The program the crossplatform-cached workload cross-compiles.
package main

func main() { println("hello") }
