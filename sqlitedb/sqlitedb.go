// Package sqlitedb opens an SQLite file by path, for applications that have
// no database of their own: QA nodes, tools, and any Go program that runs a
// Guard on its own file. It links github.com/mattn/go-sqlite3.
//
// status-go must not import it: status-go links SQLCipher, and two SQLite
// amalgamations in one binary fail to link (duplicate sqlite3_* symbols).
// status-go adopts its own application database with mvds.FromSQL instead.
//
// It owns the file-level concerns only — the path, the pragmas, and turning
// SQLite's terse open errors into ones that say what to fix; schemas,
// versions and migrations belong to package mvds.
package sqlitedb

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/retry"
)

// BusyTimeout is how long a connection waits for another writer (in this
// process or another one) before failing with "database is locked", in
// milliseconds.
const BusyTimeout = 10000

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// Open opens (creating if needed) the database at path and applies mvds's
// schema, the engine's, the retry ledger's and those of extra, so that the
// result is ready for retry.New (or for a bare mvds.NewNode).
//
// Pragmas are explicit: WAL journal (readers never block the writer),
// synchronous=NORMAL (durable across a process crash; an OS crash may lose
// the last transactions but never corrupts), foreign keys on, a busy timeout
// of BusyTimeout, and BEGIN IMMEDIATE for every transaction so that two
// writers queue instead of failing half-way.
//
// Re-opening is idempotent. A file that is not an SQLite database, a corrupt
// file, a schema newer than this binary knows, or a directory that cannot be
// written is reported with an error naming the file, and the file is left
// untouched: nothing is written before every check has passed.
func Open(path string, extra ...mvds.Schema) (*mvds.DB, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	ledger, err := retry.Schema()
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	exists, err := checkTarget(abs)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := dirWritable(filepath.Dir(abs)); err != nil {
			return nil, fmt.Errorf("open database %s: directory %s is not writable: %w", abs, filepath.Dir(abs), err)
		}
	}
	sqldb, err := sql.Open("sqlite3", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	db, err := mvds.FromSQL(sqldb, abs, append([]mvds.Schema{ledger}, extra...)...)
	if err != nil {
		_ = sqldb.Close()
		return nil, explain(abs, err, fmt.Errorf("open %w", err)) // FromSQL's error names the file
	}
	// WAL only once every check passed and the migrations committed: switching
	// the journal writes to the file.
	var mode string
	if err := sqldb.QueryRow(`PRAGMA journal_mode=WAL`).Scan(&mode); err != nil {
		_ = sqldb.Close()
		return nil, explain(abs, err, fmt.Errorf("open database %s: set WAL journal: %w", abs, err))
	}
	if mode != "wal" {
		_ = sqldb.Close()
		return nil, fmt.Errorf("open database %s: set WAL journal: SQLite kept journal mode %q", abs, mode)
	}
	return db, nil
}

func dsn(path string) string {
	// The path goes into an SQLite URI, where '%', '?' and '#' are special.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	return fmt.Sprintf("file:%s?_busy_timeout=%d&_foreign_keys=1&_synchronous=NORMAL&_txlock=immediate",
		escaped, BusyTimeout)
}

// checkTarget verifies, without writing anything, that path can be a
// database: its directory exists, and an existing file starts with the
// SQLite header. It reports whether the file exists.
func checkTarget(path string) (bool, error) {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return false, fmt.Errorf("open database %s: directory %s: %w", path, dir, err)
	}
	if !st.IsDir() {
		return false, fmt.Errorf("open database %s: %s is not a directory", path, dir)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open database %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("open database %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() == 0 {
		return true, nil // SQLite treats an empty file as a new database
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("open database %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return false, fmt.Errorf("open database %s: file is not an SQLite database (it does not start with the SQLite header)", path)
	}
	return true, nil
}

// dirWritable creates and removes a file in dir: the one test that holds on
// every platform (mode bits say nothing on Windows, nor for root on Linux).
func dirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".mvdsguard-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// fileWritable opens path for writing without changing it.
func fileWritable(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// explain rewrites SQLite's terse errors into ones that say what to fix;
// any other error is returned as otherwise.
func explain(path string, err, otherwise error) error {
	switch cause, se := classify(err); cause {
	case notADatabase:
		return fmt.Errorf("open database %s: file is corrupt or not an SQLite database: %w", path, se)
	case cannotWrite:
		dir := filepath.Dir(path)
		if dirWritable(dir) != nil {
			return fmt.Errorf("open database %s: directory %s is not writable (SQLite needs it for the -wal and -shm files): %w", path, dir, se)
		}
		if fileWritable(path) != nil {
			return fmt.Errorf("open database %s: file is not writable: %w", path, se)
		}
	}
	return otherwise
}

// cause is what an SQLite error says about the file.
type cause uint8

const (
	otherCause   cause = iota
	notADatabase       // not a database, or corrupt
	cannotWrite        // cannot open, read-only, permission or authorisation denied
)
