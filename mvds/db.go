package mvds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// DB is a database holding mvds's tables, the engine's tables and those of
// every registered component. It is safe for concurrent use.
//
// This package reaches the database only through database/sql and never
// links an SQLite driver: status-go links SQLCipher, and a second SQLite
// amalgamation in the same binary fails to link. Applications with a
// database of their own adopt it with FromSQL; those without one open a file
// with package sqlitedb.
type DB struct {
	sql  *sql.DB
	name string
}

// FromSQL adopts an open database: status-go's SQLCipher-encrypted
// application database, for example, where mvds's tables already live, or
// the file package sqlitedb opened. It checks every recorded schema version
// against what this binary knows before writing anything, then applies what
// is missing of mvds's schema (recognising a database that mvds's own
// migrations created), the engine's migrations and those of the given
// schemas, in one transaction. The handle's pragmas are left alone: journal
// mode, busy timeout and foreign keys are the application's choice. name
// names the database in errors. Closing the returned DB closes db.
func FromSQL(db *sql.DB, name string, schemas ...Schema) (*DB, error) {
	if db == nil {
		return nil, errors.New("adopt database: nil handle")
	}
	if name == "" {
		name = "database"
	}
	all, err := allSchemas(schemas)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	d := &DB{sql: db, name: name}
	if err := d.init(all); err != nil {
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	return d, nil
}

// SQL returns the underlying database handle, for components that keep their
// own tables in the same file (their writes then share transactions with the
// engine's through Node.Update).
func (db *DB) SQL() *sql.DB { return db.sql }

// Name returns the name the database was adopted under (sqlitedb.Open uses
// the file's absolute path).
func (db *DB) Name() string { return db.name }

// Close closes the database. Close every Node using it first.
func (db *DB) Close() error {
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", db.name, err)
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
		return 0, fmt.Errorf("database %s: read schema version of %q: %w", db.name, component, err)
	}
	return v, nil
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

// init checks every recorded version against what this binary knows, then
// applies what is missing in one transaction.
func (db *DB) init(schemas []Schema) error {
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
			if s.Component == componentMvds {
				if err := recordForMvds(ctx, tx, have); err != nil {
					return err
				}
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

// recordedVersions reads mvdsguard_schema. mvds's own schema has a second
// record: golang-migrate's mvds_schema_migrations, which mvds's
// persistenceutil (status-go's start-up) reads and writes. The "mvds"
// component is at the higher of the two, so that a database either side
// migrated is recognised.
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
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '`+mvdsMigrationsTable+`'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("read mvds migration table: %w", err)
	}
	if n == 1 {
		var v int64
		var dirty bool
		err := q.QueryRowContext(ctx, `SELECT version, dirty FROM `+mvdsMigrationsTable+` LIMIT 1`).Scan(&v, &dirty)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read mvds migration table: %w", err)
		}
		if dirty {
			return nil, fmt.Errorf("mvds schema is marked dirty at version %d: a previous migration failed half-way", v)
		}
		out[componentMvds] = max(out[componentMvds], v)
	}
	return out, nil
}

// mvdsMigrationsTable is where golang-migrate, run by mvds's persistenceutil,
// records mvds's schema version.
const mvdsMigrationsTable = "mvds_schema_migrations"

// recordForMvds writes the version of mvds's schema this package applied
// into golang-migrate's table as well, as golang-migrate would: otherwise
// mvds's own migrations, which status-go runs on every start, would find
// no record, try to create tables that exist, and leave the database marked
// dirty for every later start. The table is created as golang-migrate
// creates it; golang-migrate adds its own index on its next run.
func recordForMvds(ctx context.Context, tx *sql.Tx, version int64) error {
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+mvdsMigrationsTable+` (version uint64, dirty bool)`); err != nil {
		return fmt.Errorf("record mvds version %d for mvds's own migrations: %w", version, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+mvdsMigrationsTable); err != nil {
		return fmt.Errorf("record mvds version %d for mvds's own migrations: %w", version, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+mvdsMigrationsTable+` (version, dirty) VALUES (?, 0)`, version); err != nil {
		return fmt.Errorf("record mvds version %d for mvds's own migrations: %w", version, err)
	}
	return nil
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
