//go:build !cgo

package sqlitedb

// classify has nothing to look at without cgo: go-sqlite3 is then a stub
// whose every open fails with its own "requires cgo" error, passed on as is.
func classify(err error) (cause, error) { return otherCause, err }
