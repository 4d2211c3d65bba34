// Package retry is the enforcement layer: a Guard around a hooked mvds node
// that pauses retries while the device is offline, reschedules them the
// moment it reconnects or wakes from sleep, applies a retry policy per flow,
// keeps a ledger of every tracked message and an append-only event log in
// the same SQLite database as mvds, and publishes delivered / failed events
// for the GUI with Retry and Discard actions.
//
// It knows mvds only through package mvds (the engine adapter) and nothing
// about any particular transport; connectivity comes from a Connectivity
// source the application feeds.
package retry
