package mvds

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBusy and ErrFull classify the two failures a database shared with
// other writers produces: another connection held the write lock for longer
// than the busy timeout, or the disk (or the database's size limit) is full.
// Both leave nothing of the failed operation behind; both pass once the
// cause goes away. Test for them with errors.Is.
var (
	ErrBusy = errors.New("database busy: another connection held the write lock past the busy timeout")
	ErrFull = errors.New("database or disk full")
)

// classified wraps err with ErrBusy or ErrFull when SQLite's message says so.
// The message is the one stable thing every SQLite driver (go-sqlite3,
// SQLCipher) passes on: sqlite3_errstr's text, possibly with the code's name.
func classified(name string, err error) error {
	if err == nil || errors.Is(err, ErrBusy) || errors.Is(err, ErrFull) {
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY"):
		return fmt.Errorf("database %s: %w: %w", name, ErrBusy, err)
	case strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "SQLITE_FULL"):
		return fmt.Errorf("database %s: %w: %w", name, ErrFull, err)
	}
	return err
}
