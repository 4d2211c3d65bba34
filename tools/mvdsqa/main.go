// Command mvdsqa is mvdsguard's QA harness. Today it runs the engine demo:
// the same scenarios on a stock node (status-go's configuration) and on a
// hooked node, over the in-process transport, on SQLite files in a temporary
// directory, and prints the comparison.
//
// Usage:
//
//	mvdsqa demo [-epoch 1ms] [-seed 1] [-keep]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

const usage = `usage: mvdsqa <command> [flags]

commands:
  demo    run the stock-vs-hooked engine comparison on embedded defaults
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the process exit code: 0 success, 1 a scenario failed its own
// expectations, 2 usage errors.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfg := demoConfig{}
		fs.DurationVar(&cfg.epoch, "epoch", time.Millisecond, "wall-clock length of one simulated epoch (status-go's is 300ms)")
		fs.Int64Var(&cfg.seed, "seed", 1, "seed of the network's and the jitter's random decisions")
		fs.BoolVar(&cfg.keep, "keep", false, "keep the SQLite files and print their directory")
		fs.IntVar(&cfg.messages, "messages", 20, "critical messages queued per scenario")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "demo: unexpected argument %q\n", fs.Arg(0))
			return 2
		}
		if err := cfg.validate(); err != nil {
			fmt.Fprintf(stderr, "demo: %v\n", err)
			return 2
		}
		if err := runDemo(cfg, stdout); err != nil {
			var fail *expectationError
			if errors.As(err, &fail) {
				fmt.Fprintf(stderr, "demo: %v\n", err)
				return 1
			}
			fmt.Fprintf(stderr, "demo: %v\n", err)
			return 2
		}
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "mvdsqa: unknown command %q\n%s", args[0], usage)
		return 2
	}
}
