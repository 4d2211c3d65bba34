// Package report writes a runtime audit report as text for people, as JSON
// for tools, and as JUnit XML for CI systems that show test results. Every
// format carries the same facts: what was read and what was not understood,
// per-flow counts, and each violation with the lines that prove it.
//
// It knows the report's shape; it must not know how records are read or
// judged.
package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/rule"
)

// Text writes the report for a terminal.
func Text(w io.Writer, r *dynamic.Report) error {
	ew := &errWriter{w: w}
	ew.printf("%s runtime audit — horizon %s, retry within %s of a reconnect, lateness %s\n",
		tool(r), r.Config.Horizon, r.Config.ReconnectWithin, r.Config.Lateness)
	for _, in := range r.Inputs {
		writeInput(ew, in)
	}
	if !r.First.IsZero() {
		ew.printf("time span: %s to %s (%s)\n", stamp(r.First), stamp(r.Last), r.Last.Sub(r.First).Round(time.Second))
	}
	if len(r.Nodes) > 1 {
		ew.printf("\n")
		if err := writeNodes(ew, r.Nodes, tabwriter.AlignRight); err != nil {
			return err
		}
	}
	ew.printf("\n")
	if err := writeFlows(ew, r.Flows, tabwriter.AlignRight); err != nil {
		return err
	}
	writeState(ew, r.State)
	if len(r.Violations) > 0 {
		ew.printf("\n")
	}
	for _, v := range r.Violations {
		node := ""
		if v.Node != "" && !strings.HasPrefix(v.Message, "node "+v.Node+" ") {
			node = " [" + v.Node + "]"
		}
		ew.printf("%s %s %s%s: %s\n", v.Check, v.Severity, v.Name, node, v.Message)
		for _, e := range v.Evidence {
			ew.printf("    %s\n", where(e))
			ew.printf("      %s\n", e.Text)
		}
	}
	ew.printf("\n")
	for _, c := range r.Checks {
		more := ""
		if c.Listed < c.Violations {
			more = fmt.Sprintf(" (%d listed)", c.Listed)
		}
		ew.printf("%s %-24s %-7s %d%s\n", c.ID, c.Name, c.Severity, c.Violations, more)
	}
	ew.printf("%s\n", Summary(r))
	return ew.err
}

// Summary is the one-line verdict.
func Summary(r *dynamic.Report) string {
	errs, warns, infos := r.Counts()
	total := errs + warns + infos
	if total == 0 {
		return "no violations"
	}
	return fmt.Sprintf("%d violation%s: %d error%s, %d warning%s, %d info",
		total, plural(total), errs, plural(errs), warns, plural(warns), infos)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func tool(r *dynamic.Report) string {
	if r.Tool != "" {
		return r.Tool
	}
	return "mvdsaudit"
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") }

func where(e dynamic.Evidence) string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d", e.Input, e.Line)
	}
	return e.Input
}

// writeFlows writes the flow table; the fleet column "received" appears
// when a message was known delivered from another node's log.
func writeFlows(w io.Writer, flows []dynamic.FlowCounts, flags uint) error {
	received, unconfirmed := false, false
	for _, f := range flows {
		received = received || f.Received > 0
		unconfirmed = unconfirmed || f.Unconfirmed > 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', flags)
	head := "flow\tmessages\tmvds\toutside\tdelivered\t"
	if received {
		head += "(by peer log)\t"
	}
	head += "failed\tdiscarded\tsilent\topen\t"
	if unconfirmed {
		head += "unconfirmed\t"
	}
	fmt.Fprintln(tw, head)
	for _, f := range flows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t", f.Name, f.Messages, f.MVDS, f.Outside, f.Delivered)
		if received {
			fmt.Fprintf(tw, "%d\t", f.Received)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t", f.Failed, f.Discarded, f.Silent, f.Open)
		if unconfirmed {
			fmt.Fprintf(tw, "%d\t", f.Unconfirmed)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// writeNodes writes a fleet's per-node table and its totals.
func writeNodes(w io.Writer, nodes []dynamic.NodeSummary, flags uint) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', flags)
	fmt.Fprintln(tw, "node\tfiles\tlog span\tmessages\tmvds\toutside\tdelivered\t(by peer log)\tfailed\tsilent\topen\tunconfirmed\tundecided reconnects\terrors\twarnings\t")
	var t dynamic.NodeSummary
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", n.Name, len(n.Inputs), n.Last.Sub(n.First).Round(time.Second),
			n.Messages, n.MVDS, n.Outside, n.Delivered, n.Received, n.Failed, n.Silent, n.Open, n.Unconfirmed, n.ReconnectsUndecided, n.Errors, n.Warnings)
		t.Messages += n.Messages
		t.MVDS += n.MVDS
		t.Outside += n.Outside
		t.Delivered += n.Delivered
		t.Received += n.Received
		t.Failed += n.Failed
		t.Silent += n.Silent
		t.Open += n.Open
		t.Unconfirmed += n.Unconfirmed
		t.ReconnectsUndecided += n.ReconnectsUndecided
		t.Errors += n.Errors
		t.Warnings += n.Warnings
		t.Inputs = append(t.Inputs, n.Inputs...)
	}
	fmt.Fprintf(tw, "fleet: %d nodes\t%d\t\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", len(nodes), len(t.Inputs),
		t.Messages, t.MVDS, t.Outside, t.Delivered, t.Received, t.Failed, t.Silent, t.Open, t.Unconfirmed, t.ReconnectsUndecided, t.Errors, t.Warnings)
	return tw.Flush()
}

func writeInput(ew *errWriter, in *dynamic.InputStats) {
	node := ""
	if in.Node != "" {
		node = " (node " + in.Node + ")"
	}
	if in.Lines == 0 && in.Err != "" {
		ew.printf("input %s%s: not read: %s\n", in.Name, node, in.Err)
		return
	}
	ew.printf("input %s%s: %d lines, %s\n", in.Name, node, in.Lines, size(in.Bytes))
	if in.YearFrom != "" {
		ew.printf("  geth timestamps (no year) read as %d: %s\n", in.Year, in.YearFrom)
	}
	var formats []string
	for _, f := range slices.Sorted(maps.Keys(in.StatusGo)) {
		formats = append(formats, fmt.Sprintf("%s %d", f, in.StatusGo[f]))
	}
	sg := int64(0)
	for _, n := range in.StatusGo {
		sg += n
	}
	line := fmt.Sprintf("  read: %d status-go lines", sg)
	if len(formats) > 0 {
		line += " (" + strings.Join(formats, ", ") + ")"
	}
	line += fmt.Sprintf(", %d records; %d lines used", in.Records, in.Used)
	if in.UsedIncomplete > 0 {
		line += fmt.Sprintf(" (%d incomplete)", in.UsedIncomplete)
	}
	if in.Legacy > 0 {
		line += fmt.Sprintf(" (%d under pre-2024 names)", in.Legacy)
	}
	if in.Continuation > 0 {
		line += fmt.Sprintf("; %d continuation lines", in.Continuation)
	}
	ew.printf("%s\n", line)
	if len(in.Sources) > 0 {
		more := ""
		if in.SourcesMore > 0 {
			more = fmt.Sprintf(" and %d more", in.SourcesMore)
		}
		ew.printf("  processes: %s%s\n", strings.Join(in.Sources, ", "), more)
	}
	if n := in.Unreadable(); n > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(in.Unread)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, in.Unread[k]))
		}
		ew.printf("  not understood: %d (%s)\n", n, strings.Join(parts, ", "))
		for _, s := range in.Samples {
			ew.printf("    line %d, %s: %s\n      %s\n", s.Line, s.Reason, s.Detail, s.Text)
		}
	}
	if in.UnknownFields > 0 {
		ew.printf("  records with unknown fields (ignored): %d (%s)\n", in.UnknownFields, strings.Join(in.UnknownFieldList, ", "))
	}
	if in.Err != "" {
		ew.printf("  reading stopped early: %s\n", in.Err)
	}
}

func writeState(ew *errWriter, s dynamic.StateSummary) {
	var notes []string
	if s.OutcomeWithoutSend > 0 {
		notes = append(notes, fmt.Sprintf("%d outcomes of messages sent before the input began", s.OutcomeWithoutSend))
	}
	if s.AfterOutcome > 0 {
		notes = append(notes, fmt.Sprintf("%d records for messages that already had an outcome", s.AfterOutcome))
	}
	if s.Evicted > 0 {
		notes = append(notes, fmt.Sprintf("%d messages dropped from the checks by the open-message limit", s.Evicted))
	}
	if s.ReceiptsForgotten > 0 {
		notes = append(notes, fmt.Sprintf("%d receipts forgotten early by the receipt limit", s.ReceiptsForgotten))
	}
	if s.ReconnectsCutShort > 0 {
		notes = append(notes, fmt.Sprintf("%d reconnects cut short by going offline again", s.ReconnectsCutShort))
	}
	if s.ReconnectsUndecided > 0 {
		notes = append(notes, fmt.Sprintf("%d reconnects too close to the end of their node's log to judge", s.ReconnectsUndecided))
	}
	if s.ReconnectsUnchecked > 0 {
		notes = append(notes, fmt.Sprintf("%d reconnects not checked (per-node limit)", s.ReconnectsUnchecked))
	}
	if s.UnknownTypes > 0 {
		notes = append(notes, fmt.Sprintf("%d unknown type names (%s)", s.UnknownTypes, strings.Join(s.UnknownTypeNames, ", ")))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Rejected)) {
		notes = append(notes, fmt.Sprintf("%d records rejected: %s", s.Rejected[k], k))
	}
	for _, n := range notes {
		ew.printf("note: %s\n", n)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// JSON writes the report as one indented JSON object.
func JSON(w io.Writer, r *dynamic.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit XML, as Jenkins, GitLab and GitHub's test reporters read it: one
// test suite per check, one failing test case per error-severity violation
// (warnings and infos pass and say why in their output), a passing case for
// a check that never fired, and a suite for the inputs.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// JUnit writes the report as JUnit XML.
func JUnit(w io.Writer, r *dynamic.Report) error {
	out := junitSuites{Name: tool(r) + " runtime"}
	byCheck := map[string][]dynamic.Violation{}
	for _, v := range r.Violations {
		byCheck[v.Check] = append(byCheck[v.Check], v)
	}
	for _, c := range r.Checks {
		s := junitSuite{Name: c.ID + " " + c.Name, Properties: []junitProperty{
			{"title", c.Title}, {"severity", c.Severity.String()}, {"violations", fmt.Sprint(c.Violations)}}}
		class := "mvdsaudit.runtime." + c.ID
		for _, v := range byCheck[c.ID] {
			tc := junitCase{Name: caseName(v), Classname: class}
			if v.Node != "" {
				// CI test views group cases by class: one per node.
				tc.Classname = class + "." + v.Node
			}
			body := evidenceText(v)
			if v.Severity == rule.SeverityError {
				tc.Failure = &junitFailure{Message: v.Message, Type: c.ID, Body: body}
				s.Failures++
			} else {
				tc.SystemOut = v.Severity.String() + ": " + v.Message + "\n" + body
			}
			s.Cases = append(s.Cases, tc)
		}
		if more := c.Violations - c.Listed; more > 0 {
			tc := junitCase{Name: fmt.Sprintf("%d more violations not listed", more), Classname: class}
			if c.Severity == rule.SeverityError {
				tc.Failure = &junitFailure{Message: fmt.Sprintf("%d further %s violations (raise limits.violations to list them)", more, c.ID), Type: c.ID}
				s.Failures += more
			}
			s.Cases = append(s.Cases, tc)
		}
		if len(s.Cases) == 0 {
			s.Cases = append(s.Cases, junitCase{Name: "no violations", Classname: class})
		}
		s.Tests = len(s.Cases)
		if c.Violations-c.Listed > 0 && c.Severity == rule.SeverityError {
			s.Tests += c.Violations - c.Listed - 1
		}
		out.Suites = append(out.Suites, s)
		out.Tests += s.Tests
		out.Failures += s.Failures
	}
	inputs := junitSuite{Name: "inputs"}
	for _, in := range r.Inputs {
		var b strings.Builder
		writeInput(&errWriter{w: &b}, in)
		inputs.Cases = append(inputs.Cases, junitCase{Name: in.Name, Classname: "mvdsaudit.runtime.input", SystemOut: b.String()})
	}
	var flows strings.Builder
	if err := writeFlows(&flows, r.Flows, 0); err != nil {
		return err
	}
	inputs.Cases = append(inputs.Cases, junitCase{Name: "flows", Classname: "mvdsaudit.runtime.input", SystemOut: flows.String()})
	if len(r.Nodes) > 0 {
		var nodes strings.Builder
		if err := writeNodes(&nodes, r.Nodes, 0); err != nil {
			return err
		}
		inputs.Cases = append(inputs.Cases, junitCase{Name: "nodes", Classname: "mvdsaudit.runtime.input", SystemOut: nodes.String()})
	}
	inputs.Tests = len(inputs.Cases)
	out.Suites = append(out.Suites, inputs)
	out.Tests += inputs.Tests
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func caseName(v dynamic.Violation) string {
	var parts []string
	if v.Flow != "" {
		parts = append(parts, v.Flow)
	}
	if v.Node != "" {
		parts = append(parts, "node "+v.Node)
	}
	if v.ID != "" {
		parts = append(parts, v.ID)
	}
	parts = append(parts, v.At.UTC().Format(time.RFC3339Nano))
	return strings.Join(parts, " ")
}

func evidenceText(v dynamic.Violation) string {
	var b strings.Builder
	b.WriteString(v.Message)
	b.WriteString("\n")
	for _, e := range v.Evidence {
		fmt.Fprintf(&b, "%s\n  %s\n", where(e), e.Text)
	}
	return b.String()
}
