package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/migrations"
)

// pgTool returns the path of a PostgreSQL client program (pg_dump,
// pg_restore) of the test server's major version: an older pg_dump refuses
// a newer server, and a dump is best restored by its own version.
func pgTool(tb testing.TB, db bun.IDB, name string) string {
	tb.Helper()
	var major string
	if err := db.NewRaw("SELECT current_setting('server_version_num')::int / 10000").Scan(context.Background(), &major); err != nil {
		tb.Fatalf("read the server's version: %v", err)
	}
	candidate := filepath.Join("/usr/lib/postgresql", major, "bin", name)
	if _, err := os.Stat(candidate); err == nil {
		return candidate
	}
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s %s is needed (Debian: apt-get install postgresql-client-%s): %v", name, major, major, err)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil || !regexp.MustCompile(`\) `+major+`\.`).Match(out) {
		tb.Fatalf("%s is %q (%v); the test server is PostgreSQL %s: install that version's client", path, out, err, major)
	}
	return path
}

// runTool runs a PostgreSQL client program and fails the test with its
// output when it exits non-zero.
func runTool(tb testing.TB, path string, args ...string) {
	tb.Helper()
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", filepath.Base(path), strings.Join(args, " "), err, out)
	}
}

// asAdmin returns dbURL with the test server's administrator as its user:
// pg_restore --disable-triggers turns off foreign-key triggers too, which
// only a superuser may do, while the test databases' owner is none. It
// reaches the server directly, as an operator's pg_dump and pg_restore
// would: both set session state (search_path, ...) before their
// transactions, which a transaction pooler does not keep.
func asAdmin(tb testing.TB, dbURL string) string {
	tb.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = testdb.DefaultURL
	}
	a, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u, err := url.Parse(testdb.Direct(dbURL))
	if err != nil {
		tb.Fatalf("parse %q: %v", dbURL, err)
	}
	u.User = a.User
	return u.String()
}

// migratedThrough returns the URL of a fresh database with the embedded
// migrations up to and including label applied, as an older release of the
// binary would have left it.
func migratedThrough(tb testing.TB, label string) string {
	tb.Helper()
	dbURL := testdb.EmptyURL(tb)
	older := fstest.MapFS{}
	for _, l := range migrationLabels(tb) {
		if l > label {
			break
		}
		names, _ := fs.Glob(migrations.Files(), l+".*")
		for _, n := range names {
			data, err := fs.ReadFile(migrations.Files(), n)
			if err != nil {
				tb.Fatal(err)
			}
			older[n] = &fstest.MapFile{Data: data}
		}
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(older); err != nil {
		tb.Fatal(err)
	}
	// Migrations hold a session's advisory lock: directly, never through
	// a pooler.
	db := testdb.Open(tb, testdb.Direct(dbURL))
	if _, err := postgres.NewMigrator(db, ms, slog.New(slog.NewTextHandler(io.Discard, nil))).Migrate(tb.Context()); err != nil {
		tb.Fatalf("migrate through %s: %v", label, err)
	}
	return dbURL
}

// userVisible reads what users see of the collection's tables (every
// column but the derived canonical keys) as JSON in id order, leaving out
// tables that are empty or do not exist (an older release's schema).
func userVisible(tb testing.TB, db bun.IDB) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for _, table := range []string{"users", "sets", "set_images", "wishlist_items"} {
		var exists bool
		if err := db.NewRaw("SELECT to_regclass(?) IS NOT NULL", table).Scan(context.Background(), &exists); err != nil {
			tb.Fatalf("look up %s: %v", table, err)
		}
		if !exists {
			continue
		}
		var rows []string
		err := db.NewRaw("SELECT (to_jsonb(t) - 'canonical_set_number')::text FROM ? AS t ORDER BY t.id", bun.Ident(table)).
			Scan(context.Background(), &rows)
		if err != nil {
			tb.Fatalf("read %s: %v", table, err)
		}
		if len(rows) > 0 {
			out[table] = rows
		}
	}
	return out
}

// themeTotals reads user_theme_totals in key order.
func themeTotals(tb testing.TB, db bun.IDB) []string {
	tb.Helper()
	var rows []string
	err := db.NewRaw(`SELECT concat_ws(' ', user_id, theme, set_count, piece_total) FROM user_theme_totals
		ORDER BY user_id, theme COLLATE "C"`).Scan(context.Background(), &rows)
	if err != nil {
		tb.Fatalf("read user_theme_totals: %v", err)
	}
	return rows
}

// addCollectors adds, through the triggers, two collectors beside the demo
// one: Ann with sets across themes (one without a theme, one without a
// piece count) and wishes typed the way people type numbers, and Cleo with
// no sets at all.
func addCollectors(tb testing.TB, db bun.IDB, withWishlist bool) {
	tb.Helper()
	mustExec(tb, db, `INSERT INTO users (id, email, display_name) VALUES
		('00000000-0000-0000-0000-0000000000a1', 'ann@example.com', 'Ann'),
		('00000000-0000-0000-0000-0000000000c1', 'cleo@example.com', NULL)`)
	mustExec(tb, db, `INSERT INTO sets (id, user_id, title, set_number, theme, piece_count, quantity) VALUES
		('00000000-0000-0000-0000-00000000a101', '00000000-0000-0000-0000-0000000000a1', 'Millennium Falcon', '75192', 'Star Wars', 7541, 1),
		('00000000-0000-0000-0000-00000000a102', '00000000-0000-0000-0000-0000000000a1', 'Minifigure', 'SW0001a', 'Star Wars', 4, 3),
		('00000000-0000-0000-0000-00000000a103', '00000000-0000-0000-0000-0000000000a1', 'Police Station', '60316-01', 'City', 668, 2),
		('00000000-0000-0000-0000-00000000a104', '00000000-0000-0000-0000-0000000000a1', 'Mystery bag', NULL, 'City', NULL, 1),
		('00000000-0000-0000-0000-00000000a105', '00000000-0000-0000-0000-0000000000a1', 'Loose bricks', '', NULL, 1200, 1)`)
	if withWishlist {
		mustExec(tb, db, `INSERT INTO wishlist_items (user_id, title, set_number, theme) VALUES
			('00000000-0000-0000-0000-0000000000a1', 'Rivendell', '10316', 'Icons'),
			('00000000-0000-0000-0000-0000000000a1', 'Red Dragon', '21348-1', 'Ideas')`)
	}
}

// TestDBVerifyAndRepairAfterTriggerlessRestore is SPEC §13's acceptance
// check, on the two bulk loads that leave derived data wrong in practice.
// Both restore a data-only dump with --disable-triggers, as pg_restore's
// documentation advises for data-only restores (foreign keys then need no
// load order) and as a dump that holds user_theme_totals requires (with
// the triggers on, loading sets would count them a second time on top of
// the dumped totals).
func TestDBVerifyAndRepairAfterTriggerlessRestore(t *testing.T) {
	t.Parallel()
	t.Run("the collection's tables copied without the totals", func(t *testing.T) {
		t.Parallel()
		// A collection moved to a new server table by table, leaving out
		// user_theme_totals as a cache the server keeps.
		srcURL := testdb.URL(t)
		mustSucceed(t, runCLI(t, srcURL, "db", "seed"), "db seed")
		src := testdb.Open(t, srcURL)
		addCollectors(t, src, true)

		dstURL := testdb.URL(t)
		dst := testdb.Open(t, dstURL)
		dump := filepath.Join(t.TempDir(), "sets.dump")
		runTool(t, pgTool(t, src, "pg_dump"), "--data-only", "-Fc", "--file="+dump, "--dbname="+asAdmin(t, srcURL))
		runTool(t, pgTool(t, dst, "pg_restore"), "--data-only", "--disable-triggers",
			"--table=users", "--table=sets", "--table=set_images", "--table=wishlist_items",
			"--dbname="+asAdmin(t, dstURL), dump)

		// Every total is missing: one difference per row of the source's.
		n := len(themeTotals(t, src))
		checkVerifyRepair(t, src, dst, dstURL, []string{
			fmt.Sprintf("user_theme_totals: %d difference(s)\n", n),
			"  user ann@example.com, theme 'City': expected set_count 2, piece_total 1336, found no row\n",
			"  user ann@example.com, theme 'Star Wars': expected set_count 2, piece_total 7553, found no row\n",
			fmt.Sprintf("  … and %d more\n", n-2),
		})
		if diff := cmp.Diff(themeTotals(t, src), themeTotals(t, dst)); diff != "" {
			t.Errorf("theme totals after repair (-source +restored):\n%s", diff)
		}
	})
	t.Run("an older release's dump restored into the current schema", func(t *testing.T) {
		t.Parallel()
		// An upgrade by dump and restore from a release before canonical
		// set-number keys (migration 20261205000100) and the wishlist.
		srcURL := migratedThrough(t, "20261125000500_create_user_theme_totals")
		src := testdb.Open(t, srcURL)
		mustExec(t, src, `INSERT INTO users (id, email) VALUES ('00000000-0000-0000-0000-0000000000b1', 'bob@example.com')`)
		mustExec(t, src, `INSERT INTO sets (user_id, title, set_number, theme, piece_count)
			SELECT '00000000-0000-0000-0000-0000000000b1', 'Set ' || i, (75000 + i)::text, 'Theme ' || (i % 4), i
			FROM generate_series(1, 40) AS i`)
		addCollectors(t, src, false)

		dstURL := testdb.URL(t)
		dst := testdb.Open(t, dstURL)
		dump := filepath.Join(t.TempDir(), "sets.dump")
		runTool(t, pgTool(t, src, "pg_dump"), "--data-only", "-Fc", "--exclude-table=bun_migration*",
			"--file="+dump, "--dbname="+asAdmin(t, srcURL))
		runTool(t, pgTool(t, dst, "pg_restore"), "--data-only", "--disable-triggers",
			"--dbname="+asAdmin(t, dstURL), dump)

		// Bob's 40 and Ann's 3 with a number: the others' key is NULL.
		checkVerifyRepair(t, src, dst, dstURL, []string{
			"sets.canonical_set_number: 43 difference(s)\n",
			"  user ann@example.com, set ", " (Millennium Falcon), set_number '75192': expected '75192-1', found NULL\n",
			"  user ann@example.com, set ", " (Minifigure), set_number 'SW0001a': expected 'sw0001a-1', found NULL\n",
			"  … and 41 more\n",
		})
		var keys []string
		if err := dst.NewRaw(`SELECT coalesce(canonical_set_number, 'NULL') FROM sets
			WHERE user_id = '00000000-0000-0000-0000-0000000000a1' ORDER BY title`).Scan(t.Context(), &keys); err != nil {
			t.Fatal(err)
		}
		if want := []string{"NULL", "75192-1", "sw0001a-1", "NULL", "60316-1"}; !cmp.Equal(want, keys) {
			t.Errorf("Ann's keys after repair by title: %q, want %q", keys, want)
		}
	})
}

// checkVerifyRepair runs the command line over a restored database: verify
// fails and prints want (in order), repair changes only derived data and
// makes verify pass, and a second repair changes nothing.
func checkVerifyRepair(t *testing.T, src, dst bun.IDB, dstURL string, want []string) {
	t.Helper()
	restored := userVisible(t, dst)
	if diff := cmp.Diff(userVisible(t, src), restored); diff != "" {
		t.Fatalf("the restore lost data (-source +restored):\n%s", diff)
	}

	r := runCLI(t, dstURL, "db", "verify", "--limit", "2")
	if r.Code != 1 || !strings.Contains(r.Stderr, "run 'sets db repair'") {
		t.Errorf("db verify after the restore: exit %d, stderr %q; want 1 and a hint to repair", r.Code, r.Stderr)
	}
	rest := r.Stdout
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("db verify after the restore: %q missing (in order) from:\n%s", w, r.Stdout)
			break
		}
		rest = rest[i+len(w):]
	}

	r = runCLI(t, dstURL, "db", "repair")
	mustSucceed(t, r, "db repair")
	if !regexp.MustCompile(`(?m)^repaired [1-9][0-9]* row\(s\) in one transaction`).MatchString(r.Stdout) {
		t.Errorf("db repair printed:\n%s\nwant counts per kind and a total", r.Stdout)
	}
	r = runCLI(t, dstURL, "db", "verify")
	mustSucceed(t, r, "db verify after db repair")
	if !strings.HasPrefix(r.Stdout, "ok: no differences in ") || strings.Count(r.Stdout, "\n") != 1 {
		t.Errorf("db verify after db repair printed %q, want one ok line", r.Stdout)
	}
	r = runCLI(t, dstURL, "db", "repair")
	mustSucceed(t, r, "second db repair")
	if !strings.Contains(r.Stdout, "nothing to repair") || regexp.MustCompile(`: [1-9][0-9]* changed`).MatchString(r.Stdout) {
		t.Errorf("second db repair printed:\n%s\nwant 0 changed of every kind", r.Stdout)
	}
	if diff := cmp.Diff(restored, userVisible(t, dst)); diff != "" {
		t.Errorf("db repair changed what users see, updated_at included (-restored +repaired):\n%s", diff)
	}
}

// TestDBVerifyAndRepairRefusePendingMigrations runs both against a
// database an older release migrated: they must say what to do and change
// nothing.
func TestDBVerifyAndRepairRefusePendingMigrations(t *testing.T) {
	t.Parallel()
	dbURL := migratedThrough(t, "20261125000500_create_user_theme_totals")
	db := testdb.Open(t, dbURL)
	before := recorded(t, db)
	for _, cmd := range []string{"verify", "repair"} {
		r := runCLI(t, dbURL, "db", cmd)
		if r.Code != 1 || !strings.Contains(r.Stderr, "migration(s) pending (first 20261205000100_add_canonical_set_numbers): run 'sets db migrate' first") {
			t.Errorf("db %s on a half-migrated database: exit %d, stderr %q; want 1 and the pending migrations", cmd, r.Code, r.Stderr)
		}
	}
	if diff := cmp.Diff(before, recorded(t, db)); diff != "" {
		t.Errorf("applied migrations changed (-before +after):\n%s", diff)
	}
}

// TestDBVerifyAndRepairHelp prints what each checks and its flags.
func TestDBVerifyAndRepairHelp(t *testing.T) {
	t.Parallel()
	for cmd, flag := range map[string]string{"verify": "-limit", "repair": "-lock-timeout"} {
		r := runCLI(t, "postgres://nobody@127.0.0.1:1/none", "db", cmd, "--help")
		mustSucceed(t, r, "db "+cmd+" --help")
		if !strings.Contains(r.Stderr, "Usage: sets db "+cmd) || !strings.Contains(r.Stderr, flag) ||
			!strings.Contains(r.Stderr, "user_theme_totals") {
			t.Errorf("db %s --help printed:\n%s", cmd, r.Stderr)
		}
	}
}
