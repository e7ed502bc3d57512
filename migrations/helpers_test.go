package migrations_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/migrations"
)

// quietLog drops the migrator's progress messages, which only matter to an
// operator watching a real run.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// migrationLabels returns the names of the embedded migrations in the order
// they apply, such as "20261125000100_create_users": the file name without
// its .tx.up.sql suffix, which is also what `db status` prints.
func migrationLabels(tb testing.TB) []string {
	tb.Helper()
	names, err := fs.Glob(migrations.Files(), "*.up.sql")
	if err != nil {
		tb.Fatalf("list embedded migrations: %v", err)
	}
	labels := make([]string, len(names))
	for i, n := range names {
		labels[i] = strings.TrimSuffix(strings.TrimSuffix(n, ".up.sql"), ".tx")
	}
	slices.Sort(labels)
	return labels
}

// firstMigrations returns the embedded files of the first n migrations
// (both directions), so a test can stop the schema at any step.
func firstMigrations(tb testing.TB, n int) fs.FS {
	tb.Helper()
	keep := migrationLabels(tb)[:n]
	sub := fstest.MapFS{}
	err := fs.WalkDir(migrations.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".sql" {
			return err
		}
		for _, label := range keep {
			if strings.HasPrefix(p, label+".") {
				data, err := fs.ReadFile(migrations.Files(), p)
				sub[p] = &fstest.MapFile{Data: data}
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("copy embedded migrations: %v", err)
	}
	return sub
}

// withExtraMigrations returns every embedded migration plus extra files
// (name → SQL), for test-only migrations that must never ship.
func withExtraMigrations(tb testing.TB, extra map[string]string) fs.FS {
	tb.Helper()
	all := firstMigrations(tb, len(migrationLabels(tb))).(fstest.MapFS)
	for name, sql := range extra {
		all[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return all
}

// newMigrator returns the application's migrator over the migrations in
// fsys, discovered exactly as migrations.New discovers the embedded ones.
func newMigrator(tb testing.TB, db *bun.DB, fsys fs.FS) *postgres.Migrator {
	tb.Helper()
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		tb.Fatalf("discover migrations: %v", err)
	}
	return postgres.NewMigrator(db, ms, quietLog)
}

// mustMigrate applies the pending migrations of fsys and returns their names.
func mustMigrate(tb testing.TB, db *bun.DB, fsys fs.FS) []string {
	tb.Helper()
	applied, err := newMigrator(tb, db, fsys).Migrate(context.Background())
	if err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return applied
}

// mustExec runs one statement and fails the test if PostgreSQL refuses it.
func mustExec(tb testing.TB, db bun.IDB, query string, args ...any) {
	tb.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		tb.Fatalf("exec %q: %v", query, err)
	}
}

// mustStrings runs a query returning one text column and collects it.
func mustStrings(tb testing.TB, db bun.IDB, query string, args ...any) []string {
	tb.Helper()
	var out []string
	if err := db.NewRaw(query, args...).Scan(context.Background(), &out); err != nil {
		tb.Fatalf("query %q: %v", query, err)
	}
	return out
}

// appliedMigrations lists the rows of bun_migrations in name order, one per
// recorded application (a migration recorded twice shows twice). Bun
// records the timestamp alone; it is shown with the rest of the file name.
func appliedMigrations(tb testing.TB, db bun.IDB) []string {
	tb.Helper()
	names := mustStrings(tb, db, "SELECT name FROM bun_migrations ORDER BY name, id")
	for i, name := range names {
		for _, label := range migrationLabels(tb) {
			if strings.HasPrefix(label, name+"_") {
				names[i] = label
			}
		}
	}
	return names
}

// tableRows returns every row of table as JSON, in id order: a snapshot that
// compares contents exactly, whatever the columns are.
func tableRows(tb testing.TB, db bun.IDB, table string) []string {
	tb.Helper()
	return mustStrings(tb, db, "SELECT to_jsonb(t)::text FROM ? AS t ORDER BY t.id", bun.Ident(table))
}

// schemaDump returns `pg_dump --schema-only` of the database at url without
// the lines that differ between two dumps of the same schema (comments,
// session settings, pg_dump 15.14+'s random \restrict keys) and without
// Bun's bookkeeping tables, which exist whether or not anything is applied.
func schemaDump(tb testing.TB, url string) string {
	tb.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		tb.Fatalf("pg_dump is needed to compare schemas (Debian: apt-get install postgresql-client): %v", err)
	}
	out, err := exec.Command(bin, "--schema-only", "--no-owner", "--no-privileges",
		"--exclude-table=bun_migration*", "--dbname="+url).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		tb.Fatalf("pg_dump: %v\n%s", err, stderr)
	}
	var keep []string
	for line := range strings.Lines(string(out)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "", strings.HasPrefix(line, "--"),
			strings.HasPrefix(line, "SET "),
			strings.HasPrefix(line, "SELECT pg_catalog.set_config"),
			strings.HasPrefix(line, `\restrict`), strings.HasPrefix(line, `\unrestrict`):
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// emptyDB returns a fresh database with no tables, and its URL, both
// straight to the server: migrations hold a session's advisory lock, so
// they never run through a pooler (DATABASE_DIRECT_URL in production), and
// neither does pg_dump, which sets session state before its transaction.
func emptyDB(tb testing.TB) (*bun.DB, string) {
	tb.Helper()
	url := testdb.Direct(testdb.EmptyURL(tb))
	return testdb.Open(tb, url), url
}
