// Command mvdsaudit proves, from source code, how every critical status-go
// direct message is sent: through MVDS, through status-go's raw-message
// resend loop, not at all, or only depending on a runtime value.
//
// Usage:
//
//	mvdsaudit [-format text|json|sarif] [-config F] [-baseline F] [-write-baseline F]
//	          [-sites] [-test] [-C dir] [-o file] packages...
//	go vet -vettool=$(which mvdsaudit) [-mvdsaudit.config=F] packages...
//	mvdsaudit runtime [-format text|json|junit] [-config F] [-o file] [-year Y]
//	          [-node N | -node-pattern RE] [-j N] [PATH...|-]
//	mvdsaudit diff (-base REF | -base-report FILE) [-format text|json|sarif|markdown] packages...
//
// The runtime subcommand judges what happened instead: status-go's logs and
// runtime records (docs/runtime-audit.md), one node per log file, directory
// entry or glob match. The diff subcommand says what a change does to each
// critical send, against a git ref or a saved JSON report (docs/audit.md);
// it exits 1 only on regressions.
//
// Exit codes: 0 no finding at error severity; 1 findings at error severity;
// 2 usage, configuration or load failure (nothing could be analysed); 3
// (runtime) some inputs could not be used and the rest hold no error.
//
// See docs/audit.md for the user guide and docs/audit-rules.md for the rules.
package main

import (
	"os"
	"runtime/debug"
	"strings"

	"golang.org/x/tools/go/analysis/unitchecker"

	"github.com/mvdsguard/mvdsguard/audit/static"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "runtime" {
		os.Exit(runRuntime(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "diff" {
		os.Exit(runDiff(os.Args[2:], os.Stdout, os.Stderr))
	}
	if vetMode(os.Args[1:]) {
		// go vet runs the tool once per package with a JSON config file
		// (and asks for its flags and version first); unitchecker speaks
		// that protocol, including facts across packages.
		unitchecker.Main(static.Analyzer)
	}
	if os.Getenv("GOGC") == "" {
		// The audit allocates many short-lived abstract states; collecting
		// less often saves a quarter of the run time on large trees for a
		// few tens of megabytes (docs/benchmarks.md).
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// vetMode reports whether the command was started by go vet -vettool.
func vetMode(args []string) bool {
	for _, a := range args {
		if a == "-flags" || a == "--flags" || strings.HasPrefix(a, "-V=") || strings.HasPrefix(a, "--V=") {
			return true
		}
	}
	return len(args) > 0 && strings.HasSuffix(args[len(args)-1], ".cfg")
}
