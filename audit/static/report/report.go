// Package report prints the static audit's results for people (text) and
// machines (JSON, and SARIF 2.1.0 for code-scanning services).
//
// It formats what it is given; it must not know how sites and findings are
// computed, filtered or baselined.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/audit/static"
)

// Run is everything one audit produced. Positions in Sites and Findings are
// expected relative to Root, slash-separated.
type Run struct {
	Tool    string
	Version string
	// Root is the absolute directory positions are relative to.
	Root string
	// Matched counts packages the patterns matched, Relevant those that can
	// hold a RawMessage, Analyzed those the audit completed.
	Matched, Relevant, Analyzed int
	Sites                       []static.Site
	// Findings are the findings that count: not suppressed, not in the
	// baseline. Load problems are findings of rule MA9003.
	Findings   []static.Finding
	Suppressed []static.Finding
	Baselined  []static.Finding
	// MessageTypes says where the audit took the message types' names and
	// numbers from (static.Result.MessageTypes, distinct values joined).
	MessageTypes string
}

// Summary counts a run's results.
type Summary struct {
	Packages   int            `json:"packages"`
	Matched    int            `json:"matched"`
	Relevant   int            `json:"relevant"`
	Sites      int            `json:"sites"`
	Verdicts   map[string]int `json:"verdicts"`
	BySyntax   int            `json:"judgedBySyntax"`
	Findings   map[string]int `json:"findings"`
	Suppressed int            `json:"suppressed"`
	Baselined  int            `json:"baselined"`
}

// Summarize counts r's sites and findings.
func Summarize(r *Run) Summary {
	s := Summary{Packages: r.Analyzed, Matched: r.Matched, Relevant: r.Relevant, Sites: len(r.Sites),
		Verdicts: map[string]int{}, Findings: map[string]int{}, Suppressed: len(r.Suppressed), Baselined: len(r.Baselined)}
	for _, site := range r.Sites {
		s.Verdicts[site.Verdict]++
		if site.Resolution == "syntax" {
			s.BySyntax++
		}
	}
	for _, f := range r.Findings {
		s.Findings[f.Severity.String()]++
	}
	return s
}

// Text writes one line per finding (and, with sites, one per site) to w.
func Text(w io.Writer, r *Run, sites bool) error {
	var lines []string
	if sites {
		for _, s := range r.Sites {
			line := fmt.Sprintf("%s: site %s %s via %s: %s", s.Position, s.Flow, s.MessageType, s.SendCall, s.Verdict)
			if s.Mechanism != "" {
				line += " (" + s.Mechanism + ")"
			}
			if s.Condition != "" {
				line += " depending on " + s.Condition
			}
			if s.Resolution == "syntax" {
				line += " [judged by syntax]"
			}
			lines = append(lines, line)
		}
	}
	for _, f := range r.Findings {
		pos := f.Position
		if pos == "" {
			pos = "-"
		}
		lines = append(lines, fmt.Sprintf("%s: %s [%s] %s", pos, f.Rule, f.Severity, f.Message))
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// SummaryLine is the one-line account printed after a text report.
func SummaryLine(r *Run) string {
	s := Summarize(r)
	var verdicts []string
	for _, v := range []string{static.VerdictMVDS, static.VerdictNotMVDS, static.VerdictConditional, static.VerdictBroken, static.VerdictUnresolved} {
		if n := s.Verdicts[v]; n > 0 {
			verdicts = append(verdicts, fmt.Sprintf("%d %s", n, v))
		}
	}
	line := fmt.Sprintf("%s: %d sites in %d packages", r.Tool, s.Sites, s.Packages)
	if len(verdicts) > 0 {
		line += " (" + strings.Join(verdicts, ", ") + ")"
	}
	if s.BySyntax > 0 {
		line += fmt.Sprintf(", %d judged by syntax", s.BySyntax)
	}
	line += fmt.Sprintf("; findings: %d error, %d warning, %d info", s.Findings["error"], s.Findings["warning"], s.Findings["info"])
	if s.Suppressed > 0 || s.Baselined > 0 {
		line += fmt.Sprintf("; %d suppressed, %d in the baseline", s.Suppressed, s.Baselined)
	}
	if r.MessageTypes != "" {
		line += "; message types from " + r.MessageTypes
	}
	return line
}

// Format is the version of the JSON report's layout; a reader of saved
// reports (mvdsaudit diff) rejects any other.
const Format = 1

// jsonRun is the JSON document.
type jsonRun struct {
	Tool       string           `json:"tool"`
	Version    string           `json:"version"`
	Format     int              `json:"format"`
	Types      string           `json:"messageTypes,omitempty"`
	Summary    Summary          `json:"summary"`
	Sites      []static.Site    `json:"sites"`
	Findings   []jsonFinding    `json:"findings"`
	Suppressed []jsonFinding    `json:"suppressed"`
	Baselined  []jsonFinding    `json:"baselined"`
	Rules      []jsonRuleDigest `json:"rules"`
}

type jsonFinding struct {
	Rule     string `json:"rule"`
	Pos      string `json:"pos"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
	Function string `json:"function,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

type jsonRuleDigest struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
}

func toJSON(fs []static.Finding) []jsonFinding {
	out := make([]jsonFinding, 0, len(fs))
	for _, f := range fs {
		out = append(out, jsonFinding{Rule: f.Rule, Pos: f.Position, Message: f.Message, Severity: f.Severity.String(), Function: f.Function, Reason: f.Reason})
	}
	return out
}

// JSON writes the run as one JSON document.
func JSON(w io.Writer, r *Run) error {
	doc := jsonRun{
		Tool:       r.Tool,
		Version:    r.Version,
		Format:     Format,
		Types:      r.MessageTypes,
		Summary:    Summarize(r),
		Sites:      r.Sites,
		Findings:   toJSON(r.Findings),
		Suppressed: toJSON(r.Suppressed),
		Baselined:  toJSON(r.Baselined),
	}
	if doc.Sites == nil {
		doc.Sites = []static.Site{}
	}
	for i := range doc.Sites {
		if doc.Sites[i].Outcomes == nil {
			doc.Sites[i].Outcomes = []static.Outcome{}
		}
	}
	for _, ru := range rule.Static.Rules() {
		doc.Rules = append(doc.Rules, jsonRuleDigest{ID: ru.ID, Name: ru.Name, Title: ru.Title})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// SortFindings orders findings by position, then rule.
func SortFindings(fs []static.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Position != fs[j].Position {
			return lessPos(fs[i].Position, fs[j].Position)
		}
		return fs[i].Rule < fs[j].Rule
	})
}

// lessPos orders "file:line:col" by file, then numerically.
func lessPos(a, b string) bool {
	fa, la, ca := splitPos(a)
	fb, lb, cb := splitPos(b)
	if fa != fb {
		return fa < fb
	}
	if la != lb {
		return la < lb
	}
	return ca < cb
}

func splitPos(p string) (string, int, int) {
	parts := strings.Split(p, ":")
	if len(parts) < 3 {
		return p, 0, 0
	}
	var line, col int
	fmt.Sscanf(parts[len(parts)-2], "%d", &line)
	fmt.Sscanf(parts[len(parts)-1], "%d", &col)
	return strings.Join(parts[:len(parts)-2], ":"), line, col
}

// Saved is what a saved JSON report holds for a later comparison.
type Saved struct {
	Tool    string        `json:"tool"`
	Version string        `json:"version"`
	Format  int           `json:"format"`
	Sites   []static.Site `json:"sites"`
}

// ReadJSON reads a report written by JSON and checks that the given tool
// and version wrote it in this Format: verdicts and site identities of
// another version are not comparable.
func ReadJSON(data []byte, tool, version string) (*Saved, error) {
	var s Saved
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("not a JSON report: %w", err)
	}
	switch {
	case s.Tool != tool:
		return nil, fmt.Errorf("not a %s JSON report (its tool is %q)", tool, s.Tool)
	case s.Format != Format:
		return nil, fmt.Errorf("report format %d; this %s reads format %d (write the report again with this version: %s -format json)", s.Format, tool, Format, tool)
	case s.Version != version:
		return nil, fmt.Errorf("written by %s %s; this is %s %s, whose verdicts may differ (write the report again with this version)", tool, s.Version, tool, version)
	}
	return &s, nil
}
