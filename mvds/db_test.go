package mvds_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/sys/unix"

	"github.com/mvdsguard/mvdsguard/mvds"
)

func TestOpenCreatesMvdsAndEngineSchemas(t *testing.T) {
	db := openDB(t, t.TempDir(), "node.db")
	defer db.Close()
	for _, table := range []string{"mvds_states", "mvds_messages", "mvds_peers", "mvds_epoch", "mvdsguard_inbox", "mvdsguard_node"} {
		var n int
		if err := db.SQL().QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", table, n, err)
		}
	}
	var mode string
	if err := db.SQL().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.SQL().QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	ctx := context.Background()
	if v, err := db.SchemaVersion(ctx, "mvds"); err != nil || v != 1718939515 {
		t.Errorf("mvds schema version = %d, %v; want the pinned module's latest migration 1718939515", v, err)
	}
	if v, err := db.SchemaVersion(ctx, "engine"); err != nil || v != 1 {
		t.Errorf("engine schema version = %d, %v; want 1", v, err)
	}
}

func TestReopeningKeepsDataAndAppliesNothing(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, "node.db")
	if _, err := db.SQL().Exec(`INSERT INTO mvds_peers (group_id, peer_id) VALUES (x'01', x'02')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for i := 0; i < 3; i++ {
		db = openDB(t, dir, "node.db")
		var n int
		if err := db.SQL().QueryRow(`SELECT count(*) FROM mvds_peers`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("reopen %d: %d peers, %v; want the one row kept", i, n, err)
		}
		db.Close()
	}
}

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
		db, err := mvds.Open(path, s)
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
	if _, err := mvds.Open(filepath.Join(t.TempDir(), "x.db"), mvds.Schema{Component: "mvds"}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("registering the reserved component mvds: %v; want a clear error", err)
	}
}

// assertUntouched fails if the file's bytes changed or SQLite left a
// write-ahead log with content beside it.
func assertUntouched(t *testing.T, path string, before []byte) {
	t.Helper()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("%s was modified by a failed Open", path)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("a failed Open left %d bytes of write-ahead log", fi.Size())
	}
}

func TestOpenRefusesAFileThatIsNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	content := []byte("these are my notes, not a database\n")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := mvds.Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not an SQLite database") {
		t.Fatalf("Open(text file) error = %v; want it to name the file and say it is not a database", err)
	}
	assertUntouched(t, path, content)
}

func TestOpenRefusesACorruptDatabase(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, "node.db")
	db.Close()
	path := filepath.Join(dir, "node.db")
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the header, garble every page after it.
	for i := 100; i < len(content); i++ {
		content[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = mvds.Open(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open(corrupt) error = %v; want an error naming the file", err)
	}
	assertUntouched(t, path, content)
}

func TestOpenRefusesASchemaFromTheFuture(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, "node.db")
	if _, err := db.SQL().Exec(`UPDATE mvdsguard_schema SET version = 99 WHERE component = 'engine'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	path := filepath.Join(dir, "node.db")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mvds.Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"engine" is at version 99`) ||
		!strings.Contains(err.Error(), "knows only up to 1") {
		t.Fatalf("Open(future schema) error = %v; want it to name the file, the component and both versions", err)
	}
	assertUntouched(t, path, before)
}

func TestOpenReportsAnUnwritableDirectory(t *testing.T) {
	dir := t.TempDir()
	makeReadOnly(t, dir)
	path := filepath.Join(dir, "node.db")
	_, err := mvds.Open(path)
	if err == nil || !strings.Contains(err.Error(), "directory "+dir+" is not writable") {
		t.Fatalf("Open in a read-only directory: %v; want it to name the directory", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed Open created %s", path)
	}
}

func TestOpenReportsAnExistingDatabaseInAnUnwritableDirectory(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, "node.db")
	db.Close()
	path := filepath.Join(dir, "node.db")
	for _, side := range []string{"-wal", "-shm"} {
		_ = os.Remove(path + side)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	makeReadOnly(t, dir)
	_, err = mvds.Open(path)
	if err == nil || !strings.Contains(err.Error(), "is not writable") {
		t.Fatalf("Open of a database in a read-only directory: %v; want a clear error", err)
	}
	assertUntouched(t, path, before)
}

func TestOpenRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ path, want string }{
		"empty":             {"", "empty path"},
		"missing directory": {filepath.Join(dir, "nope", "node.db"), "no such file or directory"},
		"parent is a file":  {filepath.Join(file, "node.db"), "is not a directory"},
		"path is directory": {dir, "not a regular file"},
	} {
		_, err := mvds.Open(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Open(%q) error = %v; want %q", name, c.path, err, c.want)
		}
	}
}

// makeReadOnly makes dir unwritable for this process. Root ignores mode
// bits, so as root the directory is marked immutable instead.
func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsImmutable))
	}
	if err != nil {
		t.Skipf("running as root on a file system without the immutable flag (%v): cannot make a directory unwritable", err)
	}
	t.Cleanup(func() {
		g, err := os.Open(dir)
		if err != nil {
			t.Error(err)
			return
		}
		defer g.Close()
		if err := unix.IoctlSetPointerInt(int(g.Fd()), unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
			t.Errorf("restore flags of %s: %v", dir, err)
		}
	})
}

// fsImmutable is FS_IMMUTABLE_FL from linux/fs.h (chattr +i).
const fsImmutable = 0x00000010

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
