// Package migrations embeds the retry ledger's versioned schema. Files are
// named NNNN_description.up.sql; a released file is never edited.
package migrations

import "embed"

// FS holds the ledger's migrations.
//
//go:embed *.up.sql
var FS embed.FS
