// Package dynamic is the runtime audit (`mvdsaudit runtime`): it judges what actually happened to
// critical direct messages — from the enforcement layer's events, from a
// neutral JSON Lines record format any application or QA harness can write,
// and from status-go's own logs — with the checks the static audit cannot
// make: a critical message that went out without MVDS (MA1001, the static
// audit's rule, now seen at runtime), a message with neither a delivered nor
// a failed outcome within a horizon (MA2001), no retry soon after a reconnect
// while messages were pending (MA2002), a failure without any attempt
// (MA2003) and a message handed to the application twice (MA2004).
//
// The package owns the records (Record and their versioned JSON form), the
// Recorder that keeps the bounded per-message state and runs the checks, the
// Reader that streams a file of mixed status-go log lines and records into a
// Recorder, the Fleet that judges many nodes' logs with one Recorder per
// node (each by its own clock and end of log) and correlates them, and the
// Report they produce. Finding and opening the files of a run is
// audit/dynamic/logfiles'. Its settings (config.Runtime) and
// their file format are audit/config's, its check ids audit/rule's. Message
// types, content types and flows come from the core's statusgo package; log
// formats from audit/dynamic/statusgolog; capturing a live Guard is
// audit/dynamic/live; rendering reports is audit/dynamic/report.
//
// It must not know how a Guard, mvds or a transport work: live traffic
// reaches it as records. It pairs with audit/static, which judges the same
// messages from source code.
package dynamic
