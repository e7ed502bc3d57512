package migrations_test

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/migrations"
)

// appTables are the application's tables, parents first.
var appTables = []string{"users", "wishlist_items", "sets", "set_images"}

// tableData is the content of one table as JSON rows in id order, limited
// to the columns it had when read first, so that a later migration may add
// columns without the old rows counting as changed.
type tableData struct {
	Columns []string
	Rows    []string
}

// readTables reads every application table that exists; columns, if given,
// limits each table to those columns (as read by an earlier call).
func readTables(tb testing.TB, db bun.IDB, columns map[string]tableData) map[string]tableData {
	tb.Helper()
	out := map[string]tableData{}
	for _, table := range appTables {
		cols := mustStrings(tb, db, `
			SELECT column_name::text FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position`, table)
		if columns != nil {
			// Only what was there before, as it was before.
			cols = columns[table].Columns
		}
		if len(cols) == 0 {
			continue
		}
		idents := make([]string, len(cols))
		for i, c := range cols {
			idents[i] = "t." + pgx.Identifier{c}.Sanitize()
		}
		from := pgx.Identifier{table}.Sanitize() + " AS t"
		if table == "sets" && tableExists(tb, db, "sets_dangling_wishlist_item_ids") {
			// Migration …0300 moves the wishlist_item_ids that point at no
			// item of the set's owner to this side table (SPEC §10): a value
			// found there is kept, and must be the one the set held.
			from += " LEFT JOIN sets_dangling_wishlist_item_ids AS d ON d.set_id = t.id"
			for i, c := range cols {
				if c == "wishlist_item_id" {
					idents[i] = "coalesce(t.wishlist_item_id, d.wishlist_item_id) AS wishlist_item_id"
				}
			}
		}
		rows := mustStrings(tb, db, "SELECT to_jsonb(r)::text FROM (SELECT ? FROM ?) AS r ORDER BY r.id",
			bun.Safe(strings.Join(idents, ", ")), bun.Safe(from))
		out[table] = tableData{Columns: cols, Rows: rows}
	}
	return out
}

// tableExists reports whether table exists in the public schema.
func tableExists(tb testing.TB, db bun.IDB, table string) bool {
	tb.Helper()
	var ok bool
	if err := db.NewRaw("SELECT to_regclass(?) IS NOT NULL", "public."+table).Scan(context.Background(), &ok); err != nil {
		tb.Fatalf("look up table %s: %v", table, err)
	}
	return ok
}

// addGeneration inserts rows into every application table that exists: a
// new user, a full wishlist item for each user, a full set for each user,
// an image for each set. Calling it after each migration gives every later
// migration old rows to carry. Before the wishlist existed, a set's
// wishlist_item_id is a random id, as the releases of then stored whatever
// they were given; once it exists, the set points at its owner's new item
// (the only value the wishlist foreign key accepts).
func addGeneration(tb testing.TB, db bun.IDB, gen int) {
	tb.Helper()
	exists := map[string]bool{}
	for _, table := range appTables {
		exists[table] = tableExists(tb, db, table)
	}
	if exists["users"] {
		mustExec(tb, db, "INSERT INTO users (email, display_name) VALUES (?, ?)",
			fmt.Sprintf("gen%d@example.com", gen), fmt.Sprintf("Generation %d", gen))
	}
	wishlistItem := "gen_random_uuid()"
	if exists["wishlist_items"] {
		mustExec(tb, db, `
			INSERT INTO wishlist_items (user_id, set_number, title, theme, priority, target_price, notes, acquired_at)
			SELECT id, '75192', 'Wish of gen ' || ?, 'Star Wars', 2, 849.99, 'wish notes', '2023-05-04 12:00:00.654321'
			FROM users`, gen)
		wishlistItem = "(SELECT w.id FROM wishlist_items AS w WHERE w.user_id = u.id AND w.title = 'Wish of gen ' || ?0)"
	}
	if exists["sets"] {
		mustExec(tb, db, `
			INSERT INTO sets (user_id, title, set_number, store, source_url, piece_count, release_date,
				theme, tags, notes, is_built, quantity, purchase_price, tax, shipping, purchase_date,
				wishlist_item_id)
			SELECT u.id, 'Set of gen ' || ?0, '10294-1', 'LEGO Store', 'https://example.com/10294', 9090,
				'2021-11-01', 'Icons', '{display,ship}', 'notes', true, 2, 1259.98, 100.80, 9.95,
				'2022-01-15 10:30:00.123456', `+wishlistItem+`
			FROM users AS u`, gen)
	}
	if exists["set_images"] {
		mustExec(tb, db, `
			INSERT INTO set_images (set_id, image_url, thumbnail_url, position)
			SELECT id, 'https://img.example/' || id || '/' || ? || '.jpg', NULL, ? FROM sets`, gen, gen)
	}
}

// TestMigrationsKeepExistingData applies the migrations one at a time,
// adding rows after each, and checks that no later migration loses or
// changes a row that was there before it (the situation of every release
// after the first).
func TestMigrationsKeepExistingData(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	labels := migrationLabels(t)

	for i, label := range labels {
		before := readTables(t, db, nil)
		applied := mustMigrate(t, db, firstMigrations(t, i+1))
		if diff := cmp.Diff([]string{label}, applied); diff != "" {
			t.Fatalf("step %d applied (-want +got):\n%s", i+1, diff)
		}
		if diff := cmp.Diff(before, readTables(t, db, before)); diff != "" {
			t.Errorf("rows changed by %s (-before +after):\n%s", label, diff)
		}
		if i == len(labels)-1 {
			for _, table := range appTables {
				if len(before[table].Rows) == 0 {
					t.Errorf("table %s was empty before the last migration: the test proves nothing about it", table)
				}
			}
		}
		addGeneration(t, db, i+1)
	}

	if diff := cmp.Diff(labels, appliedMigrations(t, db)); diff != "" {
		t.Errorf("bun_migrations (-want +got):\n%s", diff)
	}
	if invalid := mustStrings(t, db, "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"); len(invalid) > 0 {
		t.Errorf("indexes built over existing rows are invalid: %v", invalid)
	}
}

// TestRollbackToNothingAndBack applies the migrations one group at a time,
// rolls them back group by group, and checks after each rollback that the
// schema is exactly what it was before that group (pg_dump), ending with
// nothing at all; migrating again then gives the schema of the first time.
func TestRollbackToNothingAndBack(t *testing.T) {
	t.Parallel()
	db, url := emptyDB(t)
	labels := migrationLabels(t)

	dumps := []string{schemaDump(t, url)} // dumps[i]: after the first i migrations
	for i := range labels {
		mustMigrate(t, db, firstMigrations(t, i+1))
		dumps = append(dumps, schemaDump(t, url))
	}

	m := newMigrator(t, db, migrations.Files())
	for i := len(labels); i > 0; i-- {
		rolledBack, err := m.Rollback(t.Context())
		if err != nil {
			t.Fatalf("roll back %s: %v", labels[i-1], err)
		}
		if diff := cmp.Diff([]string{labels[i-1]}, rolledBack); diff != "" {
			t.Fatalf("rolled back (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(dumps[i-1], schemaDump(t, url)); diff != "" {
			t.Errorf("schema after rolling back %s differs from before it was applied (-before +after):\n%s", labels[i-1], diff)
		}
	}

	rolledBack, err := m.Rollback(t.Context())
	if err != nil || len(rolledBack) != 0 {
		t.Errorf("rollback with nothing applied: got %v, %v; want nothing, no error", rolledBack, err)
	}
	left := mustStrings(t, db, `
		SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname NOT LIKE 'bun_migration%'
		UNION ALL
		SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'public'`)
	if len(left) > 0 {
		t.Errorf("left behind after rolling everything back: %v", left)
	}
	if got := appliedMigrations(t, db); len(got) > 0 {
		t.Errorf("bun_migrations after rolling everything back: %v, want none", got)
	}

	applied, err := m.Migrate(t.Context())
	if err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if diff := cmp.Diff(labels, applied); diff != "" {
		t.Errorf("migrating again applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(dumps[len(labels)], schemaDump(t, url)); diff != "" {
		t.Errorf("schema after migrating again differs from the first time (-first +again):\n%s", diff)
	}
}

// TestFailingMigrationLeavesNoTrace adds a test-only migration that creates
// a table, writes to it and then fails. Nothing of it may remain: not the
// table, not a bun_migrations row (or the next run would skip it). The error
// names it and carries PostgreSQL's, and the next run tries it again.
func TestFailingMigrationLeavesNoTrace(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	const broken = "20991231000000_half_done"
	m := newMigrator(t, db, withExtraMigrations(t, map[string]string{
		broken + ".tx.up.sql": "CREATE TABLE half_done (id integer);\n" +
			"INSERT INTO half_done VALUES (1);\n" +
			"SELECT no_such_column FROM half_done;\n",
		broken + ".tx.down.sql": "DROP TABLE half_done;\n",
	}))
	labels := migrationLabels(t)

	for attempt, wantApplied := range [][]string{labels, {}} {
		applied, err := m.Migrate(t.Context())
		if err == nil {
			t.Fatalf("attempt %d: migrate succeeded, want the error of %s", attempt+1, broken)
		}
		for _, want := range []string{broken, `column "no_such_column" does not exist`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("attempt %d: error %q does not mention %q", attempt+1, err, want)
			}
		}
		if diff := cmp.Diff(wantApplied, applied); diff != "" {
			t.Errorf("attempt %d: applied (-want +got):\n%s", attempt+1, diff)
		}
		if diff := cmp.Diff(labels, appliedMigrations(t, db)); diff != "" {
			t.Errorf("attempt %d: bun_migrations (-want +got):\n%s", attempt+1, diff)
		}
		if tableExists(t, db, "half_done") {
			t.Errorf("attempt %d: table half_done exists after its migration failed", attempt+1)
		}
	}
}

// TestIndexMigrationRecoversFromInterruptedBuild leaves behind what an
// interrupted CREATE INDEX CONCURRENTLY leaves (an INVALID index under the
// migration's index name) and checks that the non-transactional migration
// still succeeds and ends with the right, valid index.
func TestIndexMigrationRecoversFromInterruptedBuild(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	labels := migrationLabels(t)
	index := slices.IndexFunc(labels, func(l string) bool { return strings.HasSuffix(l, "_add_user_scoped_indexes") })
	if index < 0 {
		t.Fatalf("no add_user_scoped_indexes migration among %v", labels)
	}
	mustMigrate(t, db, firstMigrations(t, index))
	addGeneration(t, db, 1)
	mustExec(t, db, "INSERT INTO sets (user_id, title) SELECT id, 'second' FROM users")

	// A unique build over duplicate user_ids fails after creating the
	// index entry, exactly like a build killed halfway: INVALID, in place.
	_, err := db.ExecContext(t.Context(), "CREATE UNIQUE INDEX CONCURRENTLY sets_user_created_at_idx ON sets (user_id)")
	if err == nil {
		t.Fatal("setting up the invalid index: the unique build succeeded")
	}
	if got := mustStrings(t, db, "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'sets_user_created_at_idx'::regclass"); got[0] != "false" {
		t.Fatalf("setting up the invalid index: indisvalid = %s", got[0])
	}

	mustMigrate(t, db, migrations.Files())
	got := mustStrings(t, db, `
		SELECT pg_get_indexdef(indexrelid) || ' valid=' || indisvalid FROM pg_index
		WHERE indexrelid = 'sets_user_created_at_idx'::regclass`)
	want := []string{"CREATE INDEX sets_user_created_at_idx ON public.sets USING btree (user_id, created_at DESC, id DESC) valid=true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index after the migration (-want +got):\n%s", diff)
	}
}

// TestMigrationFilesFollowConventions checks what Bun cannot: every
// migration has both directions, and only what must run outside a
// transaction (CREATE/DROP INDEX CONCURRENTLY) does, one statement per
// --bun:split chunk (several statements in one chunk would run as one
// implicit transaction, which CONCURRENTLY refuses).
func TestMigrationFilesFollowConventions(t *testing.T) {
	t.Parallel()
	files := migrations.Files()
	for _, label := range migrationLabels(t) {
		t.Run(label, func(t *testing.T) {
			ups, _ := fs.Glob(files, label+".*up.sql")
			downs, _ := fs.Glob(files, label+".*down.sql")
			if len(ups) != 1 || len(downs) != 1 || strings.Contains(ups[0], ".tx.") != strings.Contains(downs[0], ".tx.") {
				t.Fatalf("files %v %v: want one up and one down, both .tx or neither", ups, downs)
			}
			for _, name := range []string{ups[0], downs[0]} {
				data, err := fs.ReadFile(files, name)
				if err != nil {
					t.Fatal(err)
				}
				checkTransactionality(t, name, string(data))
			}
		})
	}
}

// checkTransactionality reports a non-transactional file that could have
// been transactional, or a chunk of one holding more than one statement.
func checkTransactionality(t *testing.T, name, sql string) {
	t.Helper()
	concurrently := strings.Contains(strings.ToUpper(stripComments(sql)), "CONCURRENTLY")
	if strings.Contains(name, ".tx.") {
		if concurrently {
			t.Errorf("%s: CONCURRENTLY cannot run in a transaction; use a non-.tx file", name)
		}
		return
	}
	if !concurrently {
		t.Errorf("%s runs outside a transaction without needing to: rename it .tx", name)
	}
	for i, chunk := range strings.Split(sql, "--bun:split") {
		if n := strings.Count(stripDollarQuotes(stripComments(chunk)), ";"); n > 1 {
			t.Errorf("%s: chunk %d holds %d statements; separate them with --bun:split", name, i+1, n)
		}
	}
}

// dollarTag matches the opening of a dollar-quoted string, $$ or $name$.
var dollarTag = regexp.MustCompile(`\$[A-Za-z_][A-Za-z_0-9]*\$|\$\$`)

// stripDollarQuotes drops the bodies of dollar-quoted strings (function
// bodies, DO blocks), whose semicolons end no statement.
func stripDollarQuotes(sql string) string {
	var b strings.Builder
	for {
		loc := dollarTag.FindStringIndex(sql)
		if loc == nil {
			b.WriteString(sql)
			return b.String()
		}
		tag := sql[loc[0]:loc[1]]
		b.WriteString(sql[:loc[0]])
		end := strings.Index(sql[loc[1]:], tag)
		if end < 0 {
			return b.String() // unterminated: PostgreSQL refuses it anyway
		}
		sql = sql[loc[1]+end+len(tag):]
	}
}

// stripComments drops -- comments, line by line.
func stripComments(sql string) string {
	var b strings.Builder
	for line := range strings.Lines(sql) {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}
