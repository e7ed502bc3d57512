// Package migrations holds the database schema as SQL files embedded in the
// binary, so a deployed binary migrates without its source tree.
//
// Files are append-only once released: a change to the schema is a new
// timestamped pair (`sets db create NAME`). A file named *.tx.up.sql runs in
// one transaction; a plain *.up.sql runs outside one (needed for CREATE INDEX
// CONCURRENTLY), its statements separated by "--bun:split" lines.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun/migrate"
)

//go:embed *.sql
var files embed.FS

// New returns the embedded migrations, registered with Bun's Discover (not
// DiscoverCaller, which reads the source folder at run time).
func New() (*migrate.Migrations, error) {
	m := migrate.NewMigrations()
	if err := m.Discover(files); err != nil {
		return nil, fmt.Errorf("discover embedded migrations: %w", err)
	}
	return m, nil
}

// Files returns the embedded SQL files, for tools that hash or lint them.
func Files() fs.FS { return files }
