package mvds

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
	"golang.org/x/sys/unix"
)

// DB is an SQLite database holding mvds's tables, the engine's tables and
// those of every registered component. It is safe for concurrent use.
type DB struct {
	sql  *sql.DB
	path string
}

// busyTimeoutMillis is how long a connection waits for another writer (in this
// process or another one) before failing with SQLITE_BUSY.
const busyTimeoutMillis = 10000

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// Open opens (creating if needed) the database at path, applies mvds's schema,
// the engine's migrations and those of the given schemas, and returns it.
//
// Pragmas are explicit: WAL journal (readers never block the writer),
// synchronous=NORMAL (durable across a process crash; an OS crash may lose
// the last transactions but never corrupts), foreign keys on, a busy timeout,
// and BEGIN IMMEDIATE for every transaction so that two writers queue instead
// of failing half-way.
//
// Re-opening is idempotent. A file that is not an SQLite database, a schema
// newer than this binary knows, or a directory that cannot be written is
// reported with an error naming the file, and the file is left untouched:
// nothing is written before every check has passed.
func Open(path string, schemas ...Schema) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	all, err := allSchemas(schemas)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	exists, err := checkTarget(abs)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := unix.Access(filepath.Dir(abs), unix.W_OK); err != nil {
			return nil, fmt.Errorf("open database %s: directory %s is not writable: %w", abs, filepath.Dir(abs), err)
		}
	}
	sqldb, err := sql.Open("sqlite3", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	db := &DB{sql: sqldb, path: abs}
	if err := db.init(all, true); err != nil {
		_ = sqldb.Close()
		return nil, db.explain(err)
	}
	return db, nil
}

// FromSQL adopts a database the application already opened — status-go's
// SQLCipher-encrypted application database, for example, where mvds's tables
// already live. It applies the same version checks and migrations as Open
// (recognising a database that mvds's own migrations created) but leaves the
// handle's pragmas alone: journal mode, busy timeout and foreign keys are the
// application's choice. label names the database in errors. Closing the
// returned DB closes db.
func FromSQL(db *sql.DB, label string, schemas ...Schema) (*DB, error) {
	if db == nil {
		return nil, errors.New("adopt database: nil handle")
	}
	if label == "" {
		label = "database"
	}
	all, err := allSchemas(schemas)
	if err != nil {
		return nil, fmt.Errorf("adopt database %s: %w", label, err)
	}
	d := &DB{sql: db, path: label}
	if err := d.init(all, false); err != nil {
		return nil, fmt.Errorf("adopt database %s: %w", label, err)
	}
	return d, nil
}

// SQL returns the underlying database handle, for components that keep their
// own tables in the same file (their writes then share transactions with the
// engine's through Node.Update).
func (db *DB) SQL() *sql.DB { return db.sql }

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Close closes the database. Close every Node using it first.
func (db *DB) Close() error {
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// SchemaVersion returns the version recorded for a component (0 if none).
func (db *DB) SchemaVersion(ctx context.Context, component string) (int64, error) {
	var v int64
	err := db.sql.QueryRowContext(ctx, `SELECT version FROM mvdsguard_schema WHERE component = ?`, component).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("database %s: read schema version of %q: %w", db.path, component, err)
	}
	return v, nil
}

func dsn(path string) string {
	// The path goes into an SQLite URI, where '%', '?' and '#' are special.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return fmt.Sprintf("file:%s?_busy_timeout=%d&_foreign_keys=1&_synchronous=NORMAL&_txlock=immediate",
		escaped, busyTimeoutMillis)
}

func allSchemas(extra []Schema) ([]Schema, error) {
	m, err := mvdsSchema()
	if err != nil {
		return nil, err
	}
	e, err := engineSchema()
	if err != nil {
		return nil, err
	}
	all := []Schema{m, e}
	seen := map[string]bool{componentMvds: true, componentEngine: true}
	for _, s := range extra {
		if seen[s.Component] {
			return nil, fmt.Errorf("schema %q is registered twice or uses a reserved name", s.Component)
		}
		seen[s.Component] = true
		if err := s.validate(true); err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	return all, nil
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

// explain rewrites SQLite's terse errors into ones that say what to fix.
func (db *DB) explain(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB, sqlite3.ErrCorrupt:
			return fmt.Errorf("open database %s: file is corrupt or not an SQLite database: %w", db.path, err)
		case sqlite3.ErrCantOpen, sqlite3.ErrReadonly, sqlite3.ErrPerm, sqlite3.ErrAuth:
			dir := filepath.Dir(db.path)
			if unix.Access(dir, unix.W_OK) != nil {
				return fmt.Errorf("open database %s: directory %s is not writable (SQLite needs it for the -wal and -shm files): %w", db.path, dir, err)
			}
			if unix.Access(db.path, unix.W_OK) != nil {
				return fmt.Errorf("open database %s: file is not writable: %w", db.path, err)
			}
		}
	}
	return fmt.Errorf("open database %s: %w", db.path, err)
}

// init checks every recorded version against what this binary knows, switches
// the journal to WAL, then applies what is missing in one transaction.
func (db *DB) init(schemas []Schema, wal bool) error {
	ctx := context.Background()
	// Read-only checks first, so that a database from the future or a corrupt
	// file is never modified.
	if _, err := db.sql.ExecContext(ctx, `SELECT count(*) FROM sqlite_master`); err != nil {
		return err
	}
	recorded, err := db.recordedVersions(ctx, db.sql)
	if err != nil {
		return err
	}
	if err := checkNotFuture(schemas, recorded); err != nil {
		return err
	}
	if wal {
		var mode string
		if err := db.sql.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode); err != nil {
			return fmt.Errorf("set WAL journal: %w", err)
		}
		if mode != "wal" {
			return fmt.Errorf("set WAL journal: SQLite kept journal mode %q", mode)
		}
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS mvdsguard_schema (
		component TEXT PRIMARY KEY,
		version   INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema table: %w", err)
	}
	// Another process may have migrated between the checks and BEGIN.
	if recorded, err = db.recordedVersions(ctx, tx); err != nil {
		return err
	}
	if err := checkNotFuture(schemas, recorded); err != nil {
		return err
	}
	for _, s := range schemas {
		have := recorded[s.Component]
		for _, m := range s.Migrations {
			if m.Version <= have {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s of %q: %w", m.Name, s.Component, err)
			}
			have = m.Version
		}
		if have != recorded[s.Component] {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mvdsguard_schema (component, version) VALUES (?, ?)
				ON CONFLICT (component) DO UPDATE SET version = excluded.version`, s.Component, have); err != nil {
				return fmt.Errorf("record version %d of %q: %w", have, s.Component, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// recordedVersions reads mvdsguard_schema. A database that mvds's own
// persistenceutil migrated (golang-migrate's mvds_schema_migrations table)
// counts as being at that version of the "mvds" component.
func (db *DB) recordedVersions(ctx context.Context, q querier) (map[string]int64, error) {
	out := map[string]int64{}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mvdsguard_schema'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("read schema table: %w", err)
	}
	if n == 1 {
		rows, err := q.QueryContext(ctx, `SELECT component, version FROM mvdsguard_schema`)
		if err != nil {
			return nil, fmt.Errorf("read schema versions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			var v int64
			if err := rows.Scan(&c, &v); err != nil {
				return nil, fmt.Errorf("read schema versions: %w", err)
			}
			out[c] = v
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read schema versions: %w", err)
		}
	}
	if _, ok := out[componentMvds]; !ok {
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mvds_schema_migrations'`).Scan(&n); err != nil {
			return nil, fmt.Errorf("read mvds migration table: %w", err)
		}
		if n == 1 {
			var v int64
			var dirty bool
			err := q.QueryRowContext(ctx, `SELECT version, dirty FROM mvds_schema_migrations LIMIT 1`).Scan(&v, &dirty)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("read mvds migration table: %w", err)
			}
			if dirty {
				return nil, fmt.Errorf("mvds schema is marked dirty at version %d: a previous migration failed half-way", v)
			}
			out[componentMvds] = v
		}
	}
	return out, nil
}

func checkNotFuture(schemas []Schema, recorded map[string]int64) error {
	for _, s := range schemas {
		if v := recorded[s.Component]; v > s.Latest() {
			return fmt.Errorf("schema of %q is at version %d but this binary knows only up to %d: the database was written by a newer mvdsguard; refusing to touch it",
				s.Component, v, s.Latest())
		}
	}
	return nil
}
