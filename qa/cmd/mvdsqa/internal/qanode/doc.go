// Package qanode is one black-box QA node: a real go-waku node
// (qa/wakutransport), a real mvds node on its own SQLite file run by a
// Guard (package retry) or in status-go's stock configuration, a fault shim
// between the two, and a REST API on 127.0.0.1 to steer and observe it
// (docs/qa.md). mvdsqa node runs one as a process; the scenario runner runs
// them in-process too, and talks to every node through the same API.
//
// It owns the node's key and data directory, the QA tables beside mvds's and
// the Guard's (what was sent and when each ack was seen on the wire, what
// was received), and the faults injected at the shim (partition, latency).
// It must not know about scenarios: the runner drives it from outside.
package qanode
