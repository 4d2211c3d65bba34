package mvds

import (
	"database/sql"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3" // tests only: the package itself links no driver
)

// openFile opens an SQLite file for this package's own benchmarks, which
// cannot use package sqlitedb (it imports this one).
func openFile(tb testing.TB, path string, schemas ...Schema) *DB {
	tb.Helper()
	raw, err := sql.Open("sqlite3", "file:"+strings.ReplaceAll(path, "%", "%25")+"?_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_txlock=immediate")
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
