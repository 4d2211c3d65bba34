// Package wakutransport carries mvds packets over a real go-waku node
// (github.com/waku-org/go-waku), in relay mode or in light mode (light push to
// publish, filter to receive, through a service node).
//
// It owns the go-waku node's life, the signed envelope every packet travels
// in, the content topic of each recipient, splitting payloads that exceed a
// Waku message into several packets, and a connectivity signal derived from
// the node's peer connections (Online, Changes — the shape of the
// enforcement layer's Connectivity source, without depending on it).
//
// Every packet is signed with the node's secp256k1 key and verified on
// receipt against the sender it claims to be, so no node can speak — or
// acknowledge — for another. Send errors are returned, never swallowed:
// whoever runs the mvds node decides what an error means.
//
// The package must not know about retry policies, flows, ledgers or events:
// it moves bytes between authenticated peers and says whether it can.
package wakutransport
