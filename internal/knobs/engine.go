package knobs

import "github.com/status-im/mvds/state"

// The engine's knobs, filled in by package mvds. Each is nil in a binary that
// does not link package mvds.

// SyncState returns package mvds's hooked sync state alone, on the mvds
// tables of db (an *mvds.DB), calling hook (an mvds.Hook) and reporting
// epochs from epoch: what benchmarks compare with mvds's own SQLite sync
// state. Outside a node it gets none of the node's serialisation; the caller
// must not use it from two goroutines at once.
var SyncState func(db any, hook any, epoch func() int64) (state.SyncState, error)

// JitterSource returns an mvds.Option that draws status-go's jitter — in the
// backoff curve and in NotifyPeerOnline — from intn instead of math/rand's
// global source, so that a simulation replays the same schedule. intn(n)
// must return a value in [0, n). Both NewNode and NewStockNode accept it.
var JitterSource func(intn func(n int) int) any

// NextEpoch returns an mvds.Option that replaces the backoff curve of a
// hooked node (NewNode) for the states its Hook sets no next epoch for: tests
// use it to make mvds retransmit every few epochs. NewStockNode refuses it.
var NextEpoch func(next func(count uint64, epoch int64) int64) any
