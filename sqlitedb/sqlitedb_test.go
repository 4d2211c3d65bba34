package sqlitedb_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/sqlitedb"
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
	_, err := sqlitedb.Open(path)
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
	_, err = sqlitedb.Open(path)
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
	_, err = sqlitedb.Open(path)
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
	_, err := sqlitedb.Open(path)
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
	_, err = sqlitedb.Open(path)
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
		_, err := sqlitedb.Open(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Open(%q) error = %v; want %q", name, c.path, err, c.want)
		}
	}
}

func openDB(t *testing.T, dir, name string) *mvds.DB {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return db
}
