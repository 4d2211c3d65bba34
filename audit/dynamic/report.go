package dynamic

import (
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/rule"
)

// Report is the outcome of a run: what was read, per-flow counts, and every
// violation (the first Limits.Violations of each check in full).
type Report struct {
	Tool    string        `json:"tool"`
	Version string        `json:"version"`
	Config  ConfigSummary `json:"config"`
	Inputs  []*InputStats `json:"inputs"`
	// Nodes is the per-node table of a fleet (Fleet.Finish), by name.
	Nodes      []NodeSummary  `json:"nodes,omitempty"`
	First      time.Time      `json:"first"` // earliest time seen
	Last       time.Time      `json:"last"`  // latest time seen: the end of the run
	Flows      []FlowCounts   `json:"flows"`
	Checks     []CheckSummary `json:"checks"`
	Violations []Violation    `json:"violations"`
	State      StateSummary   `json:"state"`
}

// ConfigSummary is the configuration a report was made with.
type ConfigSummary struct {
	Horizon         string `json:"horizon"`
	ReconnectWithin string `json:"reconnectWithin"`
	Lateness        string `json:"lateness"`
}

// FlowCounts counts the messages of one flow ("unclassified": messages whose
// type the input did not say — status-go logs no type for datasync sends).
// A message sent both through MVDS and outside counts in both columns; the
// outcome columns count each message once, by its final outcome.
type FlowCounts struct {
	Flow      mvdsguard.Flow `json:"-"`
	Name      string         `json:"flow"`
	Messages  int            `json:"messages"`
	MVDS      int            `json:"mvds"`
	Outside   int            `json:"outside"`
	Delivered int            `json:"delivered"`
	Failed    int            `json:"failed"`
	Discarded int            `json:"discarded"`
	// Silent: no outcome within the horizon (an outcome arriving later
	// does not move it).
	Silent int `json:"silent"`
	// Open: no outcome yet, and the horizon had not passed when the input
	// (the node's log) ended.
	Open int `json:"open"`
	// Received: of Delivered, the messages whose sender's log ended before
	// an outcome while another node's log shows them received.
	Received int `json:"received,omitempty"`
	// Unconfirmed: sent through MVDS by a node whose log comes from a
	// release that does not log acknowledgements (MessageSender's names of
	// before 2024-02-27), past the horizon, and not seen received by
	// another node: its delivery cannot be known. Not a violation.
	Unconfirmed int `json:"unconfirmed,omitempty"`
	// Evicted: dropped from the checks by the open-message limit.
	Evicted int `json:"evicted,omitempty"`
}

// NodeSummary is one node's row in a fleet report: its own span (its clock
// and end of log), its messages' outcomes and its violations.
type NodeSummary struct {
	Name   string    `json:"name"`
	Inputs []string  `json:"inputs"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"` // the node's end of log
	// Messages to Open sum the node's flow rows.
	Messages  int `json:"messages"`
	MVDS      int `json:"mvds"`
	Outside   int `json:"outside"`
	Delivered int `json:"delivered"`
	Received  int `json:"received"` // of Delivered, known from another node's log
	Failed    int `json:"failed"`
	Silent    int `json:"silent"`
	Open      int `json:"open"`
	// Unconfirmed: see FlowCounts.
	Unconfirmed int `json:"unconfirmed,omitempty"`
	// Errors and Warnings count the node's violations by severity.
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	// ReconnectsUndecided counts reconnects too close to the end of the
	// node's log to judge.
	ReconnectsUndecided int64 `json:"reconnectsUndecided,omitempty"`
}

// CheckSummary says how often one check fired.
type CheckSummary struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Title      string        `json:"title"`
	Severity   rule.Severity `json:"severity"`
	Violations int           `json:"violations"`
	Listed     int           `json:"listed"` // how many of them the report lists
}

// StateSummary says what the Recorder could not judge and what its bounds
// cost.
type StateSummary struct {
	// Rejected counts records the Recorder refused, by reason.
	Rejected map[string]int64 `json:"rejected,omitempty"`
	// OutcomeWithoutSend counts outcomes of messages sent before the input
	// began (counted in their flow, not judged).
	OutcomeWithoutSend int64 `json:"outcomeWithoutSend"`
	// AfterOutcome counts records for messages that already had an outcome
	// (repeated acknowledgements, late transmissions).
	AfterOutcome int64 `json:"afterOutcome"`
	// Evicted counts messages dropped by the open-message limit.
	Evicted int64 `json:"evicted"`
	// ReceiptsForgotten counts receipts dropped by the receipt limit before
	// their time (a duplicate of one would go unseen).
	ReceiptsForgotten int64 `json:"receiptsForgotten"`
	// Reconnects counts reconnects with messages pending; CutShort those
	// followed by going offline before the deadline; Unchecked those past
	// the per-node limit.
	Reconnects          int64 `json:"reconnects"`
	ReconnectsCutShort  int64 `json:"reconnectsCutShort"`
	ReconnectsUnchecked int64 `json:"reconnectsUnchecked"`
	// ReconnectsUndecided counts reconnects whose time to retry ran past
	// the end of their node's log: neither kept nor broken.
	ReconnectsUndecided int64 `json:"reconnectsUndecided"`
	// UnknownTypes counts type names status-go's tables do not define.
	UnknownTypes     int64    `json:"unknownTypes"`
	UnknownTypeNames []string `json:"unknownTypeNames,omitempty"`
	PeakOpen         int      `json:"peakOpen"`
	OpenAtEnd        int      `json:"openAtEnd"`
}

// Counts sums the violations by severity.
func (r *Report) Counts() (errors, warnings, infos int) {
	for _, c := range r.Checks {
		switch c.Severity {
		case rule.SeverityError:
			errors += c.Violations
		case rule.SeverityWarning:
			warnings += c.Violations
		case rule.SeverityInfo:
			infos += c.Violations
		}
	}
	return errors, warnings, infos
}

// InputStats says what one input held and how much of it was understood.
// Nothing is dropped unseen: every line is in exactly one of the counts
// Records, StatusGo (by format), Continuation, Empty or Unread (by reason).
type InputStats struct {
	Name string `json:"name"`
	// Node is the node the input's unlabelled lines belong to.
	Node  string `json:"node,omitempty"`
	Lines int64  `json:"lines"`
	Bytes int64  `json:"bytes"`
	// Year is the year taken for the first geth timestamp, which carries
	// none, and YearFrom where it came from ("-year", "configuration",
	// "file modified 2024-07-12", "current year …"); both are empty when
	// the input held no geth line.
	Year     int    `json:"year,omitempty"`
	YearFrom string `json:"yearFrom,omitempty"`
	// Records counts lines of the JSON Lines record format read.
	Records int64 `json:"records"`
	// StatusGo counts status-go log lines by format; Used counts those that
	// became records (sends, transmissions, acknowledgements, connectivity).
	StatusGo map[string]int64 `json:"statusGo"`
	Used     int64            `json:"used"`
	// UsedIncomplete counts used lines that lacked a field (a truncated
	// line): what they had was used.
	UsedIncomplete int64 `json:"usedIncomplete"`
	// Legacy counts used lines under the message names of releases before
	// 2024-02-27 (no recipient, no type).
	Legacy int64 `json:"legacy,omitempty"`
	// Continuation counts indented lines (stack traces) following an entry.
	Continuation int64 `json:"continuation"`
	Empty        int64 `json:"empty"`
	// Unread counts lines not understood, by reason: not-a-log-line,
	// binary, too-long, malformed (a line of interest that could not be
	// used), bad-record, unsupported-version.
	Unread  map[string]int64 `json:"unread"`
	Samples []LineSample     `json:"samples,omitempty"`
	// UnknownFields counts records carrying fields version 1 does not
	// define (they are ignored); FieldNames lists some.
	UnknownFields    int64    `json:"unknownFields"`
	UnknownFieldList []string `json:"unknownFieldNames,omitempty"`
	// Sources lists the process labels found before entries (interleaved
	// logs); SourcesMore counts the ones not listed.
	Sources     []string `json:"sources,omitempty"`
	SourcesMore int      `json:"sourcesMore,omitempty"`
	// Err is the read error that ended the input early, if any.
	Err string `json:"error,omitempty"`
}

// LineSample is one line not understood, for the report.
type LineSample struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
	Text   string `json:"text"`
}

// Unreadable sums the lines not understood.
func (s *InputStats) Unreadable() int64 {
	var n int64
	for _, v := range s.Unread {
		n += v
	}
	return n
}

// Understood counts lines in a format the audit reads.
func (s *InputStats) Understood() int64 {
	n := s.Records
	for _, v := range s.StatusGo {
		n += v
	}
	return n
}
