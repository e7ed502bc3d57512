package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/migrations"
)

// childEnv makes the test binary act as something else when re-executed:
// "main" runs the real command line (main, with its real exit codes) on
// the arguments after the binary; "hold-lock" starts a migration that
// sleeps while holding the migration lock, for a test to kill.
const childEnv = "SETS_TEST_CHILD"

// TestMain lets tests run the command line as real processes: exit codes,
// concurrent runs and SIGKILL cannot be tested in process.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "main":
		main() // exits non-zero by itself on error
		os.Exit(0)
	case "hold-lock":
		holdLock()
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, os.Getenv(childEnv))
		os.Exit(100)
	}
}

// holdLock runs the application's migrator over one test-only migration
// that sleeps for a minute, so that the process holds the migration lock
// in the middle of a migration until it is killed. Like the db commands it
// connects to DATABASE_DIRECT_URL: the lock is a session's.
func holdLock() {
	db, err := postgres.Open(os.Getenv("DATABASE_DIRECT_URL"), postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(101)
	}
	ms := migrate.NewMigrations()
	err = ms.Discover(fstest.MapFS{
		"20000101000000_sleep.tx.up.sql":   {Data: []byte("SELECT pg_sleep(60);\n")},
		"20000101000000_sleep.tx.down.sql": {Data: []byte("SELECT 1;\n")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(101)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	_, err = postgres.NewMigrator(db, ms, log).Migrate(context.Background())
	fmt.Fprintln(os.Stderr, "hold-lock: not killed; migrate returned", err)
	os.Exit(102)
}

// cliResult is what a finished command-line process left behind.
type cliResult struct {
	Stdout, Stderr string
	Code           int
}

// startCLI starts the test binary as a child of the given kind, with
// DATABASE_URL set to dbURL (and, behind a pooler, DATABASE_DIRECT_URL to
// the same database directly: testdb.ServerEnv) and args after the binary.
func startCLI(tb testing.TB, ctx context.Context, kind, dbURL string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	tb.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), childEnv+"="+kind), testdb.Environ(dbURL)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %v: %v", args, err)
	}
	return cmd, &stdout, &stderr
}

// waitCLI waits for cmd and collects its result; only a failure to run at
// all (not a non-zero exit) fails the test.
func waitCLI(tb testing.TB, cmd *exec.Cmd, stdout, stderr *bytes.Buffer) cliResult {
	tb.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		tb.Fatalf("run %v: %v", cmd.Args[1:], err)
	}
	return cliResult{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
}

// runCLI runs `sets args...` against dbURL as a real process and returns
// its output and exit code. It gives up after a minute.
func runCLI(tb testing.TB, dbURL string, args ...string) cliResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, stdout, stderr := startCLI(tb, ctx, "main", dbURL, args...)
	return waitCLI(tb, cmd, stdout, stderr)
}

// mustSucceed fails the test unless r is a clean exit.
func mustSucceed(tb testing.TB, r cliResult, what string) {
	tb.Helper()
	if r.Code != 0 {
		tb.Fatalf("%s: exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", what, r.Code, r.Stdout, r.Stderr)
	}
}

// migrationLabels returns the embedded migrations' names as `db status`
// prints them ("20261125000100_create_users"), in order.
func migrationLabels(tb testing.TB) []string {
	tb.Helper()
	ups, err := fs.Glob(migrations.Files(), "*.up.sql")
	if err != nil {
		tb.Fatal(err)
	}
	for i, name := range ups {
		ups[i] = strings.TrimSuffix(strings.TrimSuffix(name, ".up.sql"), ".tx")
	}
	slices.Sort(ups)
	return ups
}

// recorded returns bun_migrations as "name×count" in name order, so that a
// migration recorded twice (or a missing one) shows in a diff.
func recorded(tb testing.TB, db bun.IDB) []string {
	tb.Helper()
	var rows []string
	err := db.NewRaw("SELECT name || '×' || count(*) FROM bun_migrations GROUP BY name ORDER BY name").
		Scan(context.Background(), &rows)
	if err != nil {
		tb.Fatalf("read bun_migrations: %v", err)
	}
	return rows
}

// recordedOnce is what recorded returns when each of labels ran once.
func recordedOnce(labels []string) []string {
	want := make([]string, len(labels))
	for i, l := range labels {
		want[i] = strings.SplitN(l, "_", 2)[0] + "×1"
	}
	return want
}

// missingDatabaseURL returns the URL of a database that does not exist yet
// on the test server, reached as the server's administrator (who may create
// it); the database is dropped when tb ends.
func missingDatabaseURL(tb testing.TB) string {
	tb.Helper()
	testdb.EmptyURL(tb) // fails the test, saying how to start PostgreSQL, if the server is down
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = testdb.DefaultURL
	}
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	name := "sets_cli_test_" + strings.ToLower(rand.Text()[:12])
	u.Path = "/" + name
	tb.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), testdb.Direct(admin))
		if err != nil {
			tb.Errorf("drop %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop %s: %v", name, err)
		}
	})
	return u.String()
}

// TestDBMigrateConcurrently starts ten `db migrate` processes at once, on an
// empty database and on one that does not exist yet: all must exit 0,
// exactly one applies the migrations, and each is recorded exactly once.
func TestDBMigrateConcurrently(t *testing.T) {
	t.Parallel()
	const processes = 10
	tests := []struct {
		name  string
		dbURL func(testing.TB) string
	}{
		{"empty database", testdb.EmptyURL},
		{"missing database", missingDatabaseURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbURL := tt.dbURL(t)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()

			results := make([]cliResult, processes)
			var wg sync.WaitGroup
			for i := range results {
				cmd, stdout, stderr := startCLI(t, ctx, "main", dbURL, "db", "migrate")
				wg.Go(func() { results[i] = waitCLI(t, cmd, stdout, stderr) })
			}
			wg.Wait()

			appliers := 0
			for i, r := range results {
				mustSucceed(t, r, fmt.Sprintf("process %d of %d", i+1, processes))
				if strings.Contains(r.Stdout, "applied ") {
					appliers++
				}
			}
			if appliers != 1 {
				t.Errorf("%d processes applied migrations, want exactly 1", appliers)
			}
			db := testdb.Open(t, dbURL)
			if diff := cmp.Diff(recordedOnce(migrationLabels(t)), recorded(t, db)); diff != "" {
				t.Errorf("bun_migrations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDBMigrateAfterKilledMigrator kills (SIGKILL, no cleanup) a migrator
// in the middle of a migration while it holds the migration lock, then
// checks that the next `db migrate` is not stopped by anything it left.
//
// What a killed migrator can leave is its backend: PostgreSQL notices a
// dead client only when it next talks to it, so without
// client_connection_check_interval the backend finished its one-minute
// statement, holding the lock (and a snapshot that CREATE INDEX
// CONCURRENTLY waits for) all along. So the test waits for the backend to
// go, within a few of the 1 s checks, and then wants the next run not to
// wait for the lock at all. Timing the whole next run instead measured
// mostly process start and twenty-odd migrations, which took over 5 s on
// a loaded machine for no fault of the lock.
func TestDBMigrateAfterKilledMigrator(t *testing.T) {
	t.Parallel()
	dbURL := testdb.EmptyURL(t)
	db := testdb.Open(t, dbURL)
	sleeping := func() bool {
		var active bool
		err := db.QueryRowContext(t.Context(), `
			SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			               WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep%')`).
			Scan(&active)
		if err != nil {
			t.Fatal(err)
		}
		return active
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	holder, stdout, stderr := startCLI(t, ctx, "hold-lock", dbURL)
	exited := make(chan struct{})
	go func() { _ = holder.Wait(); close(exited) }() // "signal: killed" is the expected end
	// The migration runs only once the migrator holds its lock, whatever
	// kind of lock that is: a sleeping migration means a held lock.
	waitUntil(t, 30*time.Second, "the migrator runs its migration", func() bool {
		select {
		case <-exited:
			t.Fatalf("the lock holder exited early:\n%s%s", stdout, stderr)
		default:
		}
		return sleeping()
	})
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	killed := time.Now()
	waitUntil(t, 5*time.Second, "the killed migrator's backend stops its statement", func() bool { return !sleeping() })
	t.Logf("the killed migrator's backend ended %v after the kill", time.Since(killed).Round(time.Millisecond))

	start := time.Now()
	r := runCLI(t, dbURL, "db", "migrate")
	t.Logf("db migrate after a killed migrator took %v", time.Since(start).Round(time.Millisecond))
	mustSucceed(t, r, "db migrate after a killed migrator")
	if strings.Contains(r.Stderr, "waiting for its lock") {
		t.Errorf("db migrate waited for the lock of a migrator that is gone:\n%s", r.Stderr)
	}
	if diff := cmp.Diff(recordedOnce(migrationLabels(t)), recorded(t, db)); diff != "" {
		t.Errorf("bun_migrations (-want +got):\n%s", diff)
	}
}

// waitUntil polls cond until it holds, failing the test after limit.
func waitUntil(tb testing.TB, limit time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v waiting until %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDBMigrateFailure makes a real migration fail halfway (an object
// squats on the name of the index the set_images migration creates after
// its table) and checks the command line's answer: a non-zero exit, an
// error naming the migration and PostgreSQL's reason, no trace of the
// failed migration, and a retry that applies it once the cause is gone.
func TestDBMigrateFailure(t *testing.T) {
	t.Parallel()
	dbURL := testdb.EmptyURL(t)
	db := testdb.Open(t, dbURL)
	labels := migrationLabels(t)
	failing := slices.IndexFunc(labels, func(l string) bool { return strings.HasSuffix(l, "_create_set_images") })
	if failing < 0 {
		t.Fatalf("no create_set_images migration among %v", labels)
	}
	mustExec(t, db, "CREATE TABLE squatter (id integer)")
	mustExec(t, db, "CREATE INDEX set_images_set_id_idx ON squatter (id)")

	r := runCLI(t, dbURL, "db", "migrate")
	if r.Code != 1 {
		t.Errorf("exit code %d, want 1\nstderr:\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{labels[failing], `relation "set_images_set_id_idx" already exists`} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, r.Stderr)
		}
	}
	if diff := cmp.Diff(recordedOnce(labels[:failing]), recorded(t, db)); diff != "" {
		t.Errorf("bun_migrations after the failure (-want +got):\n%s", diff)
	}
	var partial bool
	if err := db.QueryRowContext(t.Context(), "SELECT to_regclass('set_images') IS NOT NULL").Scan(&partial); err != nil || partial {
		t.Errorf("set_images exists after its migration failed (err %v)", err)
	}

	mustExec(t, db, "DROP TABLE squatter")
	mustSucceed(t, runCLI(t, dbURL, "db", "migrate"), "db migrate once the obstacle is gone")
	if diff := cmp.Diff(recordedOnce(labels), recorded(t, db)); diff != "" {
		t.Errorf("bun_migrations after the retry (-want +got):\n%s", diff)
	}
}

// mustExec runs one statement and fails the test if PostgreSQL refuses it.
func mustExec(tb testing.TB, db bun.IDB, query string, args ...any) {
	tb.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		tb.Fatalf("exec %q: %v", query, err)
	}
}

// collectionRows reads every row of the collection's tables as JSON, in id order.
func collectionRows(tb testing.TB, db bun.IDB) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for _, table := range []string{"users", "sets", "set_images", "wishlist_items"} {
		var rows []string
		err := db.NewRaw("SELECT to_jsonb(t)::text FROM ? AS t ORDER BY t.id", bun.Ident(table)).
			Scan(context.Background(), &rows)
		if err != nil {
			tb.Fatalf("read %s: %v", table, err)
		}
		out[table] = rows
	}
	return out
}

// TestDBSeedIsIdempotent seeds an empty database twice: the first run
// migrates and loads a realistic collection, the second changes nothing.
func TestDBSeedIsIdempotent(t *testing.T) {
	t.Parallel()
	dbURL := testdb.EmptyURL(t)
	mustSucceed(t, runCLI(t, dbURL, "db", "seed"), "first db seed")
	db := testdb.Open(t, dbURL)
	first := collectionRows(t, db)
	if len(first["users"]) != 1 || len(first["sets"]) < 30 || len(first["set_images"]) < len(first["sets"]) {
		t.Errorf("seeded %d users, %d sets, %d images; want 1 user, ~40 sets, most with images",
			len(first["users"]), len(first["sets"]), len(first["set_images"]))
	}
	// A realistic wishlist: several open wishes and one acquired, whose
	// set points back at it as acquireWishlistItem would have left it.
	var open, acquired, linked int
	err := db.NewRaw(`SELECT count(*) FILTER (WHERE acquired_at IS NULL),
		count(*) FILTER (WHERE acquired_at IS NOT NULL),
		(SELECT count(*) FROM sets s JOIN wishlist_items w ON w.id = s.wishlist_item_id
		  WHERE w.acquired_at IS NOT NULL AND s.canonical_set_number = w.canonical_set_number)
		FROM wishlist_items`).Scan(context.Background(), &open, &acquired, &linked)
	if err != nil {
		t.Fatalf("read the seeded wishlist: %v", err)
	}
	if open < 5 || acquired != 1 || linked != 1 {
		t.Errorf("seeded %d open and %d acquired wishes, %d linked to their set; want >= 5 open, 1 acquired, linked",
			open, acquired, linked)
	}

	r := runCLI(t, dbURL, "db", "seed")
	mustSucceed(t, r, "second db seed")
	if !strings.Contains(r.Stdout, "seeded 0 new set(s)") {
		t.Errorf("second seed said %q, want it to report 0 new sets", r.Stdout)
	}
	if diff := cmp.Diff(first, collectionRows(t, db)); diff != "" {
		t.Errorf("rows changed by the second seed (-first +second):\n%s", diff)
	}
}

// statusLines is what `db status` prints when the first applied of labels
// are applied and the rest pending.
func statusLines(labels []string, applied int) string {
	var b strings.Builder
	for i, l := range labels {
		state := "pending"
		if i < applied {
			state = "applied"
		}
		fmt.Fprintf(&b, "%s %s\n", l, state)
	}
	return b.String()
}

// TestDBStatus prints the status of a database with nothing, some and
// every migration applied: one "name applied|pending" line per migration.
func TestDBStatus(t *testing.T) {
	t.Parallel()
	dbURL := testdb.EmptyURL(t)
	labels := migrationLabels(t)

	check := func(applied int) {
		t.Helper()
		r := runCLI(t, dbURL, "db", "status")
		mustSucceed(t, r, "db status")
		if diff := cmp.Diff(statusLines(labels, applied), r.Stdout); diff != "" {
			t.Errorf("db status with %d applied (-want +got):\n%s", applied, diff)
		}
	}
	check(0)

	// Apply the first two only, as an older release of the binary would.
	firstTwo := fstest.MapFS{}
	for _, l := range labels[:2] {
		names, _ := fs.Glob(migrations.Files(), l+".*")
		for _, n := range names {
			data, _ := fs.ReadFile(migrations.Files(), n)
			firstTwo[n] = &fstest.MapFile{Data: data}
		}
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(firstTwo); err != nil {
		t.Fatal(err)
	}
	// The migrator holds a session's advisory lock: directly, as the db
	// commands connect.
	db := testdb.Open(t, testdb.Direct(dbURL))
	if _, err := postgres.NewMigrator(db, ms, slog.New(slog.NewTextHandler(io.Discard, nil))).Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	check(2)

	mustSucceed(t, runCLI(t, dbURL, "db", "migrate"), "db migrate")
	check(len(labels))
}

// TestDBRollback rolls back on a database with nothing applied (it says so
// and succeeds), then after a migration (it names what it rolled back).
func TestDBRollback(t *testing.T) {
	t.Parallel()
	dbURL := testdb.EmptyURL(t)
	labels := migrationLabels(t)

	r := runCLI(t, dbURL, "db", "rollback")
	mustSucceed(t, r, "db rollback with nothing applied")
	if want := "nothing to roll back: no migration is applied\n"; r.Stdout != want {
		t.Errorf("db rollback with nothing applied printed %q, want %q", r.Stdout, want)
	}

	mustSucceed(t, runCLI(t, dbURL, "db", "migrate"), "db migrate")
	r = runCLI(t, dbURL, "db", "rollback")
	mustSucceed(t, r, "db rollback")
	var want strings.Builder
	for _, l := range slices.Backward(labels) {
		fmt.Fprintf(&want, "rolled back %s\n", l)
	}
	if diff := cmp.Diff(want.String(), r.Stdout); diff != "" {
		t.Errorf("db rollback output (-want +got):\n%s", diff)
	}
}

// TestDBCreate writes new migration pairs and checks that they are named
// so that Bun discovers them, sort after every embedded migration, and are
// transactional unless asked otherwise.
func TestDBCreate(t *testing.T) {
	t.Parallel()
	latest := slices.Max(migrationLabels(t))
	tests := []struct {
		name  string
		flags []string
		infix string
	}{
		{"transactional", nil, ".tx"},
		{"non-transactional", []string{"--tx=false"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append(append([]string{"db", "create", "--dir", dir}, tt.flags...), "add_moc_links")
			r := runCLI(t, "", args...)
			mustSucceed(t, r, "db create")

			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			re := regexp.MustCompile(`^(\d{14})_add_moc_links` + regexp.QuoteMeta(tt.infix) + `\.(down|up)\.sql$`)
			if len(names) != 2 || !re.MatchString(names[0]) || !re.MatchString(names[1]) {
				t.Fatalf("files written: %v, want a down and an up matching %s", names, re)
			}
			for _, n := range names {
				if !strings.Contains(r.Stdout, filepath.Join(dir, n)) {
					t.Errorf("output %q does not name %s", r.Stdout, n)
				}
			}
			if stamp := re.FindStringSubmatch(names[0])[1]; stamp <= latest[:14] {
				t.Errorf("new migration %s sorts before the embedded %s", stamp, latest)
			}
			ms := migrate.NewMigrations()
			if err := ms.Discover(os.DirFS(dir)); err != nil || len(ms.Sorted()) != 1 {
				t.Errorf("Bun discovers %d migrations in the pair (err %v), want 1", len(ms.Sorted()), err)
			}
		})
	}
	t.Run("without a name", func(t *testing.T) {
		t.Parallel()
		if r := runCLI(t, "", "db", "create", "--dir", t.TempDir()); r.Code != 2 {
			t.Errorf("exit code %d, want 2 (usage)", r.Code)
		}
	})
	t.Run("missing folder", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "", "db", "create", "--dir", filepath.Join(t.TempDir(), "nope"), "x")
		if r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
			t.Errorf("exit code %d, stderr %q; want 1 and a folder-not-found error", r.Code, r.Stderr)
		}
	})
}
