package static_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/audit/static"
)

// fixtures is the status-go-shaped module whose "want" comments specify
// every site and finding.
var fixtures = filepath.Join("..", "..", "fixtures", "statusgo")

func TestFixtureSitesAndFindings(t *testing.T) {
	a := static.New(static.Options{ReportSites: true, MinSeverity: rule.SeverityWarning})
	analysistest.Run(t, fixtures, a, "./...")
}

// plainClone is status-go as a plain clone looks: generated packages and
// constants missing. The sites are judged from names and marked so.
var plainClone = filepath.Join("..", "..", "fixtures", "plainclone")

func TestPlainCloneIsJudgedFromSyntax(t *testing.T) {
	a := static.New(static.Options{ReportSites: true, MinSeverity: rule.SeverityInfo})
	analysistest.Run(t, plainClone, a, "./protocol")
}

// statusGo2023 is status-go as it was in July 2023: ResendAutomatically,
// SkipProtocolLayer, and that month's numbering of the message types.
var statusGo2023 = filepath.Join("..", "..", "fixtures", "statusgo-2023")

func TestFirstGenerationTreeIsJudgedInItsOwnTerms(t *testing.T) {
	a := static.New(static.Options{ReportSites: true, MinSeverity: rule.SeverityWarning})
	analysistest.Run(t, statusGo2023, a, "./...")
}

// statusGo2024 is status-go as it was in spring 2024: ResendType, chosen for
// chat messages by branching on the chat's kind.
var statusGo2024 = filepath.Join("..", "..", "fixtures", "statusgo-2024")

func TestChatKindBranchesAreResolvedPerSite(t *testing.T) {
	a := static.New(static.Options{ReportSites: true, MinSeverity: rule.SeverityWarning})
	analysistest.Run(t, statusGo2024, a, "./...")
}
