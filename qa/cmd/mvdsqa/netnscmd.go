package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/runner"
	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/scenario"
)

func netnsFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("netns", false, "run every node the runner starts as a process in a network namespace of its own and make faults in the kernel (root; iproute2, nftables, iptables)")
}

// checkNetns refuses, before anything runs, scenarios that cannot run as
// asked: kernel steps without -netns, -netns without root or tools, faults
// this kernel cannot make. Every problem is printed as file:line.
func checkNetns(ctx context.Context, scenarios []*scenario.Scenario, netns bool) error {
	var errs []error
	for _, s := range scenarios {
		if err := runner.CheckNetns(ctx, s, netns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeMechanisms prints which mechanism made each fault of the guarded
// runs (the stock runs had the same).
func writeMechanisms(w io.Writer, results []*runner.Result) {
	printed := false
	for _, r := range results {
		if r.Variant != "guarded" || r.Network == "" {
			continue
		}
		if !printed {
			fmt.Fprintf(w, "\nKernel faults — %s:\n", r.Network)
			printed = true
		}
		for _, f := range r.Faults {
			fmt.Fprintf(w, "  %s:%d  %s %s: %s — %s\n", r.File, f.Line, f.Step, f.Target, f.Fault, f.Mechanism)
		}
	}
}
