package main

import (
	"fmt"
	"io"
)

func runBenchCmd(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "bench: not built yet")
	return 2
}
