// Package migrations holds the QA node's SQLite schema.
package migrations

import "embed"

// FS holds the versioned migrations, NNNN_name.up.sql.
//
//go:embed *.sql
var FS embed.FS
