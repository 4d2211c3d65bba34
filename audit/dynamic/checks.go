package dynamic

import (
	"time"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/audit/static/rule"
)

// Check is one runtime check. Ids are stable and never reused; where a check
// reports what a static rule reports, it carries that rule's id, so that a
// finding reads the same whether it was proven from source or seen in
// traffic.
type Check struct {
	ID       string
	Name     string
	Title    string
	Severity rule.Severity
}

// The check ids.
const (
	// NotMVDS is the static audit's MA1001: a critical message sent without
	// MVDS.
	NotMVDS = rule.NotMVDS
	// SilentDrop: no delivered or failed outcome within the horizon.
	SilentDrop = "MA2001"
	// NoRetryAfterReconnect: messages were pending when the device
	// reconnected and none was attempted within the configured time.
	NoRetryAfterReconnect = "MA2002"
	// FailedUntried: a message failed without any attempt.
	FailedUntried = "MA2003"
	// DuplicateReceipt: the same message was handed to the application
	// twice.
	DuplicateReceipt = "MA2004"
)

var checks = []Check{
	{NotMVDS, "not-mvds", "a critical message was sent outside MVDS", rule.SeverityError},
	{SilentDrop, "silent-drop", "a message reached neither delivered nor failed within the horizon", rule.SeverityError},
	{NoRetryAfterReconnect, "no-retry-after-reconnect", "messages were pending at a reconnect and none was attempted soon after", rule.SeverityError},
	{FailedUntried, "failed-untried", "a message failed without any attempt", rule.SeverityError},
	{DuplicateReceipt, "duplicate-receipt", "the same message was handed to the application twice", rule.SeverityError},
}

// Checks returns every check in report order.
func Checks() []Check { return append([]Check(nil), checks...) }

// CheckByID returns the check with id.
func CheckByID(id string) (Check, bool) {
	for _, c := range checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

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
