// Package mvdsguard holds the vocabulary shared by every part of mvdsguard:
// the Flow a critical direct message belongs to, the Status it is in, and the
// Event published for each lifecycle transition.
//
// It depends on nothing outside the standard library, so that the audit, the
// enforcement layer and the QA harness can all speak of the same things
// without importing each other. It must not know about mvds, SQLite, Waku or
// status-go.
package mvdsguard
