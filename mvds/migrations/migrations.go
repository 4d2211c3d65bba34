// Package migrations embeds the engine adapter's own versioned schema.
//
// Files are named NNNN_description.up.sql; NNNN is the version, starting at
// 1 and increasing by one. A released file is never edited: a change is a new
// file.
package migrations

import "embed"

// FS holds the engine's migrations.
//
//go:embed *.up.sql
var FS embed.FS
