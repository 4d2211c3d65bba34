//go:build tools

package main

// status-go links go-waku. Nothing here uses it, but its module must stay in
// this module's graph at status-go's version, so that its requirements take
// part in version selection as they do in status-go. The graph comes from
// go-waku's go.mod, not from what is imported, so a package of it that
// imports nothing but the standard library is enough (and keeps `go mod
// tidy` from fetching go-waku's own dependencies).
import _ "github.com/waku-org/go-waku/waku/v2/hash"
