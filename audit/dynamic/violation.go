package dynamic

import (
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/rule"
)

// Violation is one finding of a check, with the lines that prove it.
type Violation struct {
	Check    string         `json:"check"`
	Name     string         `json:"name"`
	Severity rule.Severity  `json:"severity"`
	Message  string         `json:"message"`
	Node     string         `json:"node,omitempty"`
	ID       string         `json:"id,omitempty"`
	Flow     string         `json:"flow,omitempty"`
	At       time.Time      `json:"at"`
	Evidence []Evidence     `json:"evidence"`
	flow     mvdsguard.Flow // for sorting
}
