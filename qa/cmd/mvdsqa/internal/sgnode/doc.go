// Package sgnode drives status-go through status-backend, status-go's own
// HTTP server (cmd/status-backend): one process per user, its API at
// POST /statusgo/<Function> and its signals on the WebSocket /signals.
//
// It owns the exchange with one status-backend — calls, JSON-RPC through
// CallRPC, the signal stream and its resumption, starting and stopping the
// process — and a recording of that exchange as JSON lines (Record), so
// that tests replay a real run without status-go. It knows nothing of
// scenarios or expectations: package runner maps those onto it.
//
// Every error names the node and what was being done, so that a runner can
// report which node failed at which step.
package sgnode
