package main

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	sqlcipher "github.com/mutecomm/go-sqlcipher/v4"
	mvdsmigrations "github.com/status-im/mvds/persistenceutil"
)

// status-go's cipher settings for its application database: a passphrase
// stretched with 3,200 PBKDF2 iterations (reduced from SQLCipher's default
// for start-up time), and SQLCipher 3's page size and algorithms, which
// status-go kept when it moved to SQLCipher 4.
const (
	kdfIterations  = 3200
	cipherPageSize = 8192
)

// plaintextHeader is how every unencrypted SQLite file begins. SQLCipher
// encrypts the whole first page, header included.
var plaintextHeader = []byte("SQLite format 3\x00")

// openAppDB opens, creating it if needed, an SQLCipher database the way
// status-go opens its application database: every connection sets the key
// and the cipher parameters before anything reads the file, then turns on
// foreign keys, WAL and a 60 s busy timeout; transactions begin IMMEDIATE;
// the pool holds as many connections as the process may run threads. A
// wrong key fails here, at the first read.
func openAppDB(path, key string) (*sql.DB, error) {
	pragmas := []string{
		"PRAGMA key = '" + strings.ReplaceAll(key, "'", "''") + "'",
		fmt.Sprintf("PRAGMA cipher_page_size = %d", cipherPageSize),
		"PRAGMA cipher_hmac_algorithm = HMAC_SHA1",
		"PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA1",
		fmt.Sprintf("PRAGMA kdf_iter = %d", kdfIterations),
		"PRAGMA foreign_keys = ON",
		"PRAGMA journal_mode = WAL",
		"PRAGMA busy_timeout = 60000",
	}
	drv := &sqlcipher.SQLiteDriver{ConnectHook: func(c *sqlcipher.SQLiteConn) error {
		for _, p := range pragmas {
			if _, err := c.Exec(p, nil); err != nil {
				// The key itself never appears in an error.
				return fmt.Errorf("%s: %w", strings.TrimSpace(strings.SplitN(p, "=", 2)[0]), err)
			}
		}
		return nil
	}}
	db := sql.OpenDB(connector{driver: drv, dsn: path + "?_txlock=immediate"})
	n := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if _, err := db.Exec(`SELECT count(*) FROM sqlite_master`); err != nil {
		db.Close()
		return nil, fmt.Errorf("open encrypted database %s: %w", path, err)
	}
	return db, nil
}

// connector hands database/sql connections from one SQLCipher driver, so
// that each database carries its own key without a globally registered
// driver per key.
type connector struct {
	driver *sqlcipher.SQLiteDriver
	dsn    string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.driver }

// migrateLikeStatusGo applies mvds's migrations with mvds's own code, as
// status-go does on every start before its own migrations: golang-migrate
// records the version reached in mvds_schema_migrations. It returns that
// version.
func migrateLikeStatusGo(db *sql.DB) (int64, error) {
	if err := mvdsmigrations.Migrate(db); err != nil {
		return 0, fmt.Errorf("mvds's own migrations: %w", err)
	}
	var version int64
	var dirty bool
	if err := db.QueryRow(`SELECT version, dirty FROM mvds_schema_migrations`).Scan(&version, &dirty); err != nil {
		return 0, fmt.Errorf("read mvds_schema_migrations: %w", err)
	}
	if dirty {
		return 0, fmt.Errorf("mvds_schema_migrations: version %d is marked dirty", version)
	}
	return version, nil
}

// cipherVersion returns SQLCipher's version as the linked library reports
// it.
func cipherVersion(db *sql.DB) (string, error) {
	var v string
	if err := db.QueryRow(`PRAGMA cipher_version`).Scan(&v); err != nil {
		return "", fmt.Errorf("read cipher version: %w", err)
	}
	return v, nil
}

// checkEncrypted proves that the file at path is unreadable without key: it
// does not begin with SQLite's plaintext header, and opening it without a
// key, or with another key, fails at the first read. It returns what a
// reader without the key is told. Every connection to the file must be
// closed first, so that the WAL has been folded into it.
func checkEncrypted(path, key string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("check encryption: %w", err)
	}
	header := make([]byte, len(plaintextHeader))
	_, err = io.ReadFull(f, header)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("check encryption of %s: read header: %w", path, err)
	}
	if bytes.Equal(header, plaintextHeader) {
		return "", fmt.Errorf("%s begins with %q: it is not encrypted", path, plaintextHeader[:15])
	}
	unkeyed := sql.OpenDB(connector{driver: &sqlcipher.SQLiteDriver{}, dsn: path})
	_, noKeyErr := unkeyed.Exec(`SELECT count(*) FROM sqlite_master`)
	unkeyed.Close()
	if noKeyErr == nil {
		return "", fmt.Errorf("%s opens without a key", path)
	}
	if db, err := openAppDB(path, key+"-wrong"); err == nil {
		db.Close()
		return "", fmt.Errorf("%s opens with a wrong key", path)
	}
	return noKeyErr.Error(), nil
}
