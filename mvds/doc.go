// Package mvds is the engine adapter: it runs a real github.com/status-im/mvds
// node on SQLite and exposes every transition of its sync state, so that the
// layers above can observe and steer retransmission.
//
// It owns adopting a database the application opened (FromSQL: mvds's own
// schema from the pinned module's migration assets, plus versioned
// migrations of its own and of components that register a Schema), building a node over mvds's SQLite message store,
// peer store and sync state with a Hook around the sync state, persisting the
// node's epoch, delivering received messages exactly once, and the stock
// configuration that reproduces status-go as the baseline of every
// comparison (NewStockNode: a constructor of its own, sharing all of the
// above but the Hook). Settings only simulations and tests turn are filled
// into package internal/knobs rather than exported here.
//
// It must not know about retry policies, flows, events, any particular
// transport or any SQLite driver: policies live in package retry, transports
// implement mvds's transport.Transport (see mvds/memtransport and, in the QA
// module, qa/wakutransport), and package sqlitedb opens files by path. It
// reaches the database through database/sql only, so that status-go can
// link it beside SQLCipher.
//
// # Concurrency
//
// mvds's node reads its epoch counter without synchronisation from the
// goroutines that append messages and process incoming packets, while its
// epoch goroutine increments it atomically; run side by side, they race. The
// Node therefore serialises all work that touches mvds's internals — appends,
// incoming packets, reschedules, and the epoch's Map and Clear — on one
// engine lock, and only lets other work in once the epoch write has been
// observed. Semantics at epoch granularity are unchanged: a packet processed
// while the epoch goroutine sleeps has the same effect as in stock mvds.
package mvds
