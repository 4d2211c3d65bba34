// Package retry is the enforcement layer: a Guard around an mvds node that
// pauses retries while the device is offline, reschedules them the moment it
// reconnects or wakes from sleep, applies a retry policy per flow, keeps a
// ledger of every tracked message and an append-only event log in the same
// database as mvds, and publishes delivered / failed events for the GUI with
// Retry and Discard actions.
//
// Its public surface is what an application calls: New and its options,
// Send, Track, Status, Pending, Retry, Discard, Subscribe, Events,
// RescheduleAll, Close. The callbacks mvds makes into the Guard go through an
// unexported adapter (hook.go); every statement on the Guard's tables belongs
// to the ledger (ledger.go), which also owns the one answer to how many
// attempts a message has had.
//
// It knows mvds only through package mvds (the engine adapter: it reads and
// changes mvds's state only through mvds.Op) and nothing about any
// particular transport or SQLite driver; connectivity comes from a
// Connectivity source the application feeds.
package retry
