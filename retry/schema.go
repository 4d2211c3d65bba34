package retry

import (
	"fmt"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/retry/migrations"
)

// component is the name the ledger's schema is versioned under.
const component = "retry"

// Schema returns the ledger's migrations, to pass to mvds.Open together with
// those of any other component keeping tables in the same database.
func Schema() (mvds.Schema, error) {
	s, err := mvds.SchemaFromFS(component, migrations.FS)
	if err != nil {
		return mvds.Schema{}, fmt.Errorf("retry ledger schema: %w", err)
	}
	return s, nil
}
