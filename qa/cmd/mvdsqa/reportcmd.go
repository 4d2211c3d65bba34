package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mvdsguard/mvdsguard/qa/cmd/mvdsqa/internal/runner"
)

// writeHTML writes the HTML report of results to path, when one is named.
func writeHTML(results []*runner.Result, path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if err := runner.WriteHTML(f, results); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// absPath is path made absolute for printing, or path as it is when that
// fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// runReportCmd is `mvdsqa report`: the HTML report of results written
// earlier with -json.
func runReportCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("html", "", "write the HTML report to this file (required)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mvdsqa report -html FILE RESULTS.json ...\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var results []*runner.Result
	for _, in := range fs.Args() {
		rs, err := readResults(in)
		if err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return 2
		}
		results = append(results, rs...)
	}
	if err := writeHTML(results, *out); err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "HTML report: %s\n", absPath(*out))
	return 0
}

// readResults reads a JSON array of results as `mvdsqa run -json` writes
// it.
func readResults(path string) ([]*runner.Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rs []*runner.Result
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("%s: not the JSON results of mvdsqa run -json: %w", path, err)
	}
	for i, r := range rs {
		if r == nil || r.Scenario == "" || (r.Variant != "stock" && r.Variant != "guarded" && !strings.HasPrefix(r.Variant, runner.VariantStatusGo)) {
			return nil, fmt.Errorf("%s: result %d: want a scenario name and a variant of stock, guarded or status-go", path, i+1)
		}
	}
	return rs, nil
}
