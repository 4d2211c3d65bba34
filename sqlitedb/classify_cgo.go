//go:build cgo

package sqlitedb

import (
	"errors"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// classify finds the SQLite error inside err and says what it means for the
// file; it returns the SQLite error itself, to be wrapped.
func classify(err error) (cause, error) {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return otherCause, err
	}
	switch se.Code {
	case sqlite3.ErrNotADB, sqlite3.ErrCorrupt:
		return notADatabase, se
	case sqlite3.ErrCantOpen, sqlite3.ErrReadonly, sqlite3.ErrPerm, sqlite3.ErrAuth:
		return cannotWrite, se
	}
	return otherCause, err
}
