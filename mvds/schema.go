package mvds

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	nodemigrations "github.com/status-im/mvds/node/migrations"
	peersmigrations "github.com/status-im/mvds/peers/migrations"
	statemigrations "github.com/status-im/mvds/state/migrations"
	storemigrations "github.com/status-im/mvds/store/migrations"

	"github.com/mvdsguard/mvdsguard/mvds/migrations"
)

// Schema is the versioned set of migrations one component owns in the
// database. Open applies every registered Schema, records the version reached
// per component, and refuses a database whose recorded version is newer than
// the binary's, so an old binary never writes to a schema it does not know.
type Schema struct {
	// Component names the owner; it is the key under which the version is
	// recorded ("retry", for example). "mvds" and "engine" are reserved.
	Component string
	// Migrations in version order. Versions start at 1 and increase by one,
	// except for the "mvds" component, which uses mvds's timestamps.
	Migrations []Migration
}

// Migration is one step of a Schema.
type Migration struct {
	Version int64
	Name    string
	SQL     string
}

// Latest returns the highest version the schema knows (0 for none).
func (s Schema) Latest() int64 {
	if len(s.Migrations) == 0 {
		return 0
	}
	return s.Migrations[len(s.Migrations)-1].Version
}

const (
	componentMvds   = "mvds"
	componentEngine = "engine"
)

var migrationName = regexp.MustCompile(`^(\d+)_([a-z0-9_]+)\.up\.sql$`)

// SchemaFromFS builds a Schema from files named NNNN_description.up.sql in
// the root of fsys (typically an embed.FS). Versions must start at 1 and
// increase by one, so a missing or duplicated file is caught at start-up
// rather than leaving a database half migrated.
func SchemaFromFS(component string, fsys fs.FS) (Schema, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return Schema{}, fmt.Errorf("schema %q: list migrations: %w", component, err)
	}
	s := Schema{Component: component}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return Schema{}, fmt.Errorf("schema %q: file %q is not named NNNN_description.up.sql", component, e.Name())
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return Schema{}, fmt.Errorf("schema %q: file %q: version: %w", component, e.Name(), err)
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return Schema{}, fmt.Errorf("schema %q: read %q: %w", component, e.Name(), err)
		}
		s.Migrations = append(s.Migrations, Migration{Version: v, Name: e.Name(), SQL: string(body)})
	}
	sort.Slice(s.Migrations, func(i, j int) bool { return s.Migrations[i].Version < s.Migrations[j].Version })
	if err := s.validate(true); err != nil {
		return Schema{}, err
	}
	return s, nil
}

func (s Schema) validate(contiguous bool) error {
	if s.Component == "" {
		return fmt.Errorf("schema has no component name")
	}
	var prev int64
	for i, m := range s.Migrations {
		if m.SQL == "" {
			return fmt.Errorf("schema %q: migration %d (%s) is empty", s.Component, m.Version, m.Name)
		}
		if contiguous && m.Version != int64(i+1) {
			return fmt.Errorf("schema %q: migration %s has version %d, want %d (versions start at 1 and increase by one)",
				s.Component, m.Name, m.Version, i+1)
		}
		if m.Version <= prev {
			return fmt.Errorf("schema %q: migration %s: version %d does not increase", s.Component, m.Name, m.Version)
		}
		prev = m.Version
	}
	return nil
}

// mvdsSchema collects mvds's own migrations from the pinned module's
// migration asset packages, in timestamp order, exactly as mvds applies them.
// mvds's persistenceutil package is not used: it links an SQLCipher driver
// that clashes with go-sqlite3.
func mvdsSchema() (Schema, error) {
	type assets struct {
		names func() []string
		get   func(string) ([]byte, error)
	}
	s := Schema{Component: componentMvds}
	for _, a := range []assets{
		{nodemigrations.AssetNames, nodemigrations.Asset},
		{peersmigrations.AssetNames, peersmigrations.Asset},
		{statemigrations.AssetNames, statemigrations.Asset},
		{storemigrations.AssetNames, storemigrations.Asset},
	} {
		for _, name := range a.names() {
			m := migrationName.FindStringSubmatch(name)
			if m == nil {
				continue // down migrations and doc.go
			}
			v, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				return Schema{}, fmt.Errorf("mvds migration %q: version: %w", name, err)
			}
			body, err := a.get(name)
			if err != nil {
				return Schema{}, fmt.Errorf("mvds migration %q: %w", name, err)
			}
			s.Migrations = append(s.Migrations, Migration{Version: v, Name: name, SQL: string(body)})
		}
	}
	sort.Slice(s.Migrations, func(i, j int) bool { return s.Migrations[i].Version < s.Migrations[j].Version })
	if err := s.validate(false); err != nil {
		return Schema{}, err
	}
	return s, nil
}

func engineSchema() (Schema, error) {
	return SchemaFromFS(componentEngine, migrations.FS)
}
