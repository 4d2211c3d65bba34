package mvds

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3" // tests only: the package itself links no driver
)

// openFile opens an SQLite file for this package's own benchmarks, which
// cannot use package sqlitedb (it imports this one).
func openFile(tb testing.TB, path string, schemas ...Schema) *DB {
	tb.Helper()
	// The path goes into an SQLite URI, where '%', '?' and '#' are special
	// (a benchmark's temporary directory is named after "due=1%bare").
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	raw, err := sql.Open("sqlite3", "file:"+escaped+"?_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		tb.Fatal(err)
	}
	db, err := FromSQL(raw, path, schemas...)
	if err != nil {
		_ = raw.Close()
		tb.Fatal(err)
	}
	return db
}
