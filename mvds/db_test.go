package mvds_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mvdsguard/mvdsguard/mvds"
)

func TestRegisteredSchemaIsAppliedOnceAndVersioned(t *testing.T) {
	s, err := mvds.SchemaFromFS("ledger", fstest.MapFS{
		"0001_create.up.sql": {Data: []byte(`CREATE TABLE ledger (id INTEGER PRIMARY KEY);`)},
		"0002_column.up.sql": {Data: []byte(`ALTER TABLE ledger ADD COLUMN note TEXT;`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "node.db")
	for i := 0; i < 2; i++ {
		db, err := mvds.FromSQL(rawDB(t, path), path, s)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if v, err := db.SchemaVersion(context.Background(), "ledger"); err != nil || v != 2 {
			t.Fatalf("open %d: ledger version %d, %v; want 2", i, v, err)
		}
		if _, err := db.SQL().Exec(`INSERT INTO ledger (note) VALUES ('x')`); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
}

func TestSchemaFromFSRejectsGapsAndBadNames(t *testing.T) {
	for name, fs := range map[string]fstest.MapFS{
		"gap":      {"0001_a.up.sql": {Data: []byte("SELECT 1;")}, "0003_c.up.sql": {Data: []byte("SELECT 1;")}},
		"bad name": {"create_table.sql": {Data: []byte("SELECT 1;")}},
		"empty":    {"0001_a.up.sql": {Data: nil}},
	} {
		if _, err := mvds.SchemaFromFS("x", fs); err == nil {
			t.Errorf("%s: SchemaFromFS succeeded; want an error", name)
		}
	}
	if _, err := mvds.FromSQL(rawDB(t, filepath.Join(t.TempDir(), "x.db")), "x.db", mvds.Schema{Component: "mvds"}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("registering the reserved component mvds: %v; want a clear error", err)
	}
}

// TestFromSQLAdoptsADatabaseMvdsAlreadyMigrated plays status-go: its own
// database handle, with mvds's tables created by mvds's migrations (which
// record golang-migrate's mvds_schema_migrations) and rows in them.
func TestFromSQLAdoptsADatabaseMvdsAlreadyMigrated(t *testing.T) {
	raw, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`CREATE TABLE mvds_peers (group_id BLOB NOT NULL, peer_id BLOB NOT NULL, PRIMARY KEY (group_id, peer_id) ON CONFLICT REPLACE)`,
		`CREATE TABLE mvds_states (type INTEGER NOT NULL, send_count INTEGER NOT NULL, send_epoch INTEGER NOT NULL, group_id BLOB, peer_id BLOB NOT NULL, message_id BLOB NOT NULL, PRIMARY KEY (message_id, peer_id))`,
		`CREATE INDEX idx_send_epoch ON mvds_states(send_epoch)`,
		`CREATE TABLE mvds_epoch (peer_id BLOB PRIMARY KEY, epoch INTEGER NOT NULL)`,
		`CREATE TABLE mvds_messages (id BLOB PRIMARY KEY, group_id BLOB NOT NULL, timestamp INTEGER NOT NULL, body BLOB NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS idx_mvds_states_peer_id ON mvds_states(peer_id)`,
		`CREATE TABLE mvds_schema_migrations (version uint64, dirty bool)`,
		`INSERT INTO mvds_schema_migrations VALUES (1718939515, 0)`,
		`INSERT INTO mvds_states VALUES (2, 3, 100, x'01', x'02', x'03')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db, err := mvds.FromSQL(raw, "status-go app database")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(context.Background(), "engine"); err != nil || v != 1 {
		t.Fatalf("engine schema %d, %v; want applied", v, err)
	}
	var states int
	if err := raw.QueryRow(`SELECT count(*) FROM mvds_states`).Scan(&states); err != nil || states != 1 {
		t.Fatalf("mvds state rows %d, %v; want the existing one kept (mvds's migrations not re-run)", states, err)
	}
	if _, err := mvds.FromSQL(nil, "x"); err == nil {
		t.Fatal("adopted a nil handle")
	}
	if _, err := raw.Exec(`UPDATE mvds_schema_migrations SET dirty = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM mvdsguard_schema WHERE component = 'mvds'`); err != nil {
		t.Fatal(err)
	}
	if _, err := mvds.FromSQL(raw, "status-go app database"); err == nil || !strings.Contains(err.Error(), "dirty") {
		t.Fatalf("adopting a database whose mvds migration failed half-way: %v", err)
	}
}

// rawDB opens an SQLite file with nothing applied, as an application's own
// handle would be.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return raw
}
