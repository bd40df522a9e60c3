package main

import (
	"fmt"

	"github.com/google/go-cmp/cmp"
)

func main() { fmt.Println("changed:", cmp.Diff("old", "new") != "") }
