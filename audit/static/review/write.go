package review

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/mvdsguard/mvdsguard/audit/rule"
	"github.com/mvdsguard/mvdsguard/audit/static"
	"github.com/mvdsguard/mvdsguard/audit/static/report"
)

// Summary is the one-line account of a review.
func (r *Review) Summary() string {
	return fmt.Sprintf("%d regressions, %d changed, %d added, %d removed, %d renamed; %d sites unchanged (base %s: %d sites, head %s: %d sites)",
		r.Regressions(), r.Count(Changed)-r.Regressions(), r.Count(Added), r.Count(Removed), r.Count(Renamed), r.Unchanged,
		r.Base, r.BaseSites, r.Head, r.HeadSites)
}

// label names a change for people.
func (c Change) label() string {
	if c.Regression {
		return "regression"
	}
	return c.Kind
}

// where is the site's position after the change, else before it.
func (c Change) where() string {
	if c.After != nil {
		return c.After.Position
	}
	return c.Before.Position
}

// what says how the verdict moved.
func (c Change) what() string {
	switch c.Kind {
	case Added:
		return verdictOf(*c.After)
	case Removed:
		return "was " + verdictOf(*c.Before)
	case Renamed:
		return c.Before.Function + " → " + c.After.Function + ", still " + verdictOf(*c.After)
	}
	return verdictOf(*c.Before) + " → " + verdictOf(*c.After)
}

// reason is the sentence that explains the site's verdict after the
// change (before it, for a removed site).
func (c Change) reason() string {
	s := c.After
	if s == nil {
		s = c.Before
	}
	var rs []string
	seen := map[string]bool{}
	for _, o := range s.Outcomes {
		r := o.Reason
		if o.When != "" {
			r += " (when " + o.When + ")"
		}
		if !seen[r] {
			seen[r] = true
			rs = append(rs, r)
		}
	}
	return strings.Join(rs, "; ")
}

// Text writes one line per change, regressions first.
func Text(w io.Writer, r *Review) error {
	for _, c := range r.Changes {
		if _, err := fmt.Fprintf(w, "%s: %s: %s %s in %s: %s\n", c.where(), c.label(), c.Flow, c.MessageType, c.Function, c.what()); err != nil {
			return err
		}
	}
	return nil
}

// JSON writes the review as one JSON document.
func JSON(w io.Writer, r *Review, tool, version string) error {
	doc := struct {
		Tool        string `json:"tool"`
		Version     string `json:"version"`
		Regressions int    `json:"regressions"`
		*Review
	}{tool, version, r.Regressions(), r}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// Markdown writes the review as a pull-request comment.
func Markdown(w io.Writer, r *Review) error {
	var b strings.Builder
	b.WriteString("### mvdsaudit: what this change does to critical sends\n\n")
	if len(r.Changes) == 0 {
		fmt.Fprintf(&b, "No critical send site changed (%d sites, base %s).\n", r.HeadSites, md(r.Base))
		_, err := io.WriteString(w, b.String())
		return err
	}
	if n := r.Regressions(); n > 0 {
		fmt.Fprintf(&b, "**%d regression(s):** a site that went through MVDS does not any more.\n\n", n)
	}
	fmt.Fprintf(&b, "%s\n\n", md(r.Summary()))
	b.WriteString("| | site | function | flow | message type | verdict |\n|---|---|---|---|---|---|\n")
	for _, c := range r.Changes {
		mark := c.Kind
		if c.Regression {
			mark = "**regression**"
		}
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | %s | %s | %s |\n", mark, md(c.where()), md(c.Function), c.Flow, c.MessageType, md(c.what()))
	}
	b.WriteString("\n<details><summary>Why</summary>\n\n")
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "- `%s` %s %s: %s\n", md(c.where()), c.Flow, c.MessageType, md(c.reason()))
	}
	b.WriteString("\n</details>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// md escapes what would break a table cell.
func md(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// SARIF writes the regressions, and only them, as results of rule MA1008,
// for code scanning to show on the pull request.
func SARIF(w io.Writer, r *Review, tool, version, root string) error {
	run := &report.Run{Tool: tool, Version: version, Root: root}
	for _, c := range r.Changes {
		if !c.Regression {
			continue
		}
		run.Findings = append(run.Findings, static.Finding{
			Rule:     rule.Regression,
			Position: c.After.Position,
			Function: c.Function,
			Severity: rule.SeverityError,
			Message: fmt.Sprintf("%s message %s via %s went through MVDS before this change and does not after it: %s; %s",
				c.Flow, c.MessageType, c.After.SendCall, c.what(), c.reason()),
		})
	}
	return report.SARIF(w, run)
}
