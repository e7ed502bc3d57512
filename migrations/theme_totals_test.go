package migrations_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/migrations"
)

// themeTotal is one (user, theme) of a collection: its number of sets and
// their pieces (piece count × quantity), the user named by email.
type themeTotal struct {
	Owner      string
	Theme      string
	SetCount   int64
	PieceTotal int64
}

// storedTotals reads user_theme_totals, the table the triggers keep.
func storedTotals(tb testing.TB, db bun.IDB) []themeTotal {
	tb.Helper()
	return scanTotals(tb, db, `
		SELECT coalesce(u.email, t.user_id::text) COLLATE "C" AS owner, t.theme COLLATE "C" AS theme,
		       t.set_count, t.piece_total
		FROM user_theme_totals t LEFT JOIN users u ON u.id = t.user_id
		ORDER BY 1, 2`)
}

// recomputedTotals aggregates sets from scratch, the way `themes` did before
// the totals table existed: what the table must hold at every moment.
func recomputedTotals(tb testing.TB, db bun.IDB) []themeTotal {
	tb.Helper()
	return scanTotals(tb, db, `
		SELECT coalesce(u.email, s.user_id::text) COLLATE "C" AS owner, s.theme COLLATE "C" AS theme,
		       count(*) AS set_count, coalesce(sum(s.piece_count::bigint * s.quantity), 0) AS piece_total
		FROM sets s LEFT JOIN users u ON u.id = s.user_id
		WHERE s.theme IS NOT NULL
		GROUP BY 1, 2
		ORDER BY 1, 2`)
}

func scanTotals(tb testing.TB, db bun.IDB, query string) []themeTotal {
	tb.Helper()
	var rows []themeTotal
	if err := db.NewRaw(query).Scan(context.Background(), &rows); err != nil {
		tb.Fatalf("read theme totals: %v", err)
	}
	return rows
}

// totalsDrift returns "" when user_theme_totals equals the aggregate of
// sets, else a -recomputed +stored diff. A row left at zero sets shows as
// one the recomputation does not have.
func totalsDrift(tb testing.TB, db bun.IDB) string {
	tb.Helper()
	return cmp.Diff(recomputedTotals(tb, db), storedTotals(tb, db))
}

// collectionWriter applies random writes to sets, of every kind SQL allows
// (not only the API's), to a database with a few users.
type collectionWriter struct {
	db    *bun.DB
	r     *rand.Rand
	users []string // ids of the users that exist
	made  int      // users created so far, for unique emails
}

// themes are the values a write picks from: nil (no theme), and two names
// differing only in case, which are different themes.
var themes = []any{nil, "City", "city", "Space", "Technic", "Star Wars"}

func (w *collectionWriter) theme() any { return themes[w.r.IntN(len(themes))] }

// pieces is a piece count or nil (unknown), sometimes the API's maximum so
// that totals pass the 32-bit range.
func (w *collectionWriter) pieces() any {
	switch w.r.IntN(6) {
	case 0:
		return nil
	case 1:
		return 1_000_000
	default:
		return w.r.IntN(5000)
	}
}

func (w *collectionWriter) user() string { return w.users[w.r.IntN(len(w.users))] }

func (w *collectionWriter) addUser(tb testing.TB) {
	tb.Helper()
	w.made++
	id := mustInsert(tb, w.db, "INSERT INTO users (email) VALUES (?)", fmt.Sprintf("user%02d@example.com", w.made))
	w.users = append(w.users, id)
}

// set returns the id of a random set, or "" when there is none.
func (w *collectionWriter) set(tb testing.TB) string {
	tb.Helper()
	var n int
	if err := w.db.NewRaw("SELECT count(*) FROM sets").Scan(context.Background(), &n); err != nil {
		tb.Fatal(err)
	}
	if n == 0 {
		return ""
	}
	ids := mustStrings(tb, w.db, "SELECT id::text FROM sets ORDER BY id OFFSET ? LIMIT 1", w.r.IntN(n))
	return ids[0]
}

// writes lists the kinds of write, each as SQL with its arguments drawn
// afresh each time; a kind listed twice is picked twice as often. A write
// on one set (oneSet) gets a random set's id in place of $set, and is
// skipped while there is none.
func (w *collectionWriter) writes() []struct {
	name   string
	oneSet bool
	run    func(tb testing.TB, set string)
} {
	exec := func(query string, args ...func() any) func(testing.TB, string) {
		return func(tb testing.TB, set string) {
			tb.Helper()
			vals := make([]any, len(args))
			for i, a := range args {
				vals[i] = a()
			}
			mustExec(tb, w.db, strings.ReplaceAll(query, "$set", "'"+set+"'"), vals...)
		}
	}
	theme, pieces, user := w.theme, w.pieces, func() any { return w.user() }
	small := func() any { return 1 + w.r.IntN(40) }
	quantity := func() any { return 1 + w.r.IntN(10_000) }
	return []struct {
		name   string
		oneSet bool
		run    func(tb testing.TB, set string)
	}{
		{"insert one", false, exec("INSERT INTO sets (user_id, title, theme, piece_count, quantity) VALUES (?, 'one', ?, ?, ?)",
			user, theme, pieces, small)},
		{"insert one", false, exec("INSERT INTO sets (user_id, title, theme, piece_count) VALUES (?, 'one', ?, ?)",
			user, theme, pieces)},
		{"bulk insert ... select", false, exec(`
			INSERT INTO sets (user_id, title, theme, piece_count, quantity)
			SELECT u.ids[1 + (g * ?) % cardinality(u.ids)], 'bulk ' || g,
			       (ARRAY[NULL, 'City', 'Space', 'Technic', 'Ideas'])[1 + (g * ?) % 5],
			       CASE WHEN g % 4 = 0 THEN NULL ELSE (g * ?) % 5000 END, 1 + g % 3
			FROM generate_series(1, ?) g, (SELECT array_agg(id ORDER BY id) AS ids FROM users) u`,
			small, small, small, small)},
		{"theme null <-> value", true, exec("UPDATE sets SET theme = CASE WHEN theme IS NULL THEN ? END WHERE id = $set", theme)},
		{"theme to another", true, exec("UPDATE sets SET theme = ? WHERE id = $set", theme)},
		{"piece count null <-> value", true, exec(
			"UPDATE sets SET piece_count = CASE WHEN piece_count IS NULL THEN ?::integer END WHERE id = $set", pieces)},
		{"quantity", true, exec("UPDATE sets SET quantity = ? WHERE id = $set", quantity)},
		{"title only", true, exec("UPDATE sets SET title = 'renamed ' || ? WHERE id = $set", small)},
		{"change owner", true, exec("UPDATE sets SET user_id = ? WHERE id = $set", user)},
		{"swap two themes of a user", false, exec(`
			UPDATE sets SET theme = CASE theme WHEN 'City' THEN 'Space' WHEN 'Space' THEN 'City' ELSE theme END
			WHERE user_id = ?`, user)},
		{"many columns of many sets", false, exec(`
			UPDATE sets SET quantity = quantity % 7 + 1,
			       piece_count = CASE WHEN piece_count IS NULL THEN 42 WHEN piece_count % 2 = 0 THEN NULL ELSE piece_count END,
			       theme = CASE WHEN theme IS NULL THEN 'Ideas' WHEN theme = 'Ideas' THEN NULL ELSE theme END
			WHERE user_id = ?`, user)},
		{"move a theme to another user", false, exec("UPDATE sets SET user_id = ? WHERE user_id = ? AND theme = ?", user, user, theme)},
		{"upsert (insert and update in one statement)", true, exec(`
			INSERT INTO sets (id, user_id, title, theme, piece_count, quantity)
			SELECT id, user_id, title, ?, piece_count, quantity % 5 + 1 FROM sets WHERE id = $set
			UNION ALL
			SELECT gen_random_uuid(), ?, 'upserted', ?, ?, 2
			ON CONFLICT (id) DO UPDATE SET theme = excluded.theme, quantity = excluded.quantity`,
			theme, user, theme, pieces)},
		{"delete one", true, exec("DELETE FROM sets WHERE id = $set")},
		{"delete many", false, exec("DELETE FROM sets WHERE user_id = ? AND (theme = ? OR piece_count < ?)", user, theme, small)},
		{"rolled back", false, func(tb testing.TB, _ string) {
			tb.Helper()
			err := w.db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
				mustExec(tb, tx, "UPDATE sets SET theme = 'Rolled back', quantity = 9 WHERE user_id = ?", w.user())
				mustExec(tb, tx, "INSERT INTO sets (user_id, title, theme) VALUES (?, 'gone', 'City')", w.user())
				return fmt.Errorf("roll back on purpose")
			})
			if err == nil {
				tb.Fatal("the transaction did not roll back")
			}
		}},
		{"delete a user", false, func(tb testing.TB, _ string) {
			tb.Helper()
			i := w.r.IntN(len(w.users))
			mustExec(tb, w.db, "DELETE FROM users WHERE id = ?", w.users[i])
			w.users = slices.Delete(w.users, i, i+1)
			if len(w.users) < 3 {
				w.addUser(tb)
			}
		}},
		{"add a user", false, func(tb testing.TB, _ string) { tb.Helper(); w.addUser(tb) }},
	}
}

// TestThemeTotalsFollowEveryWrite runs a long random sequence of writes to
// sets (single and bulk inserts, updates of each counted column and of
// none, owner changes, multi-row updates, upserts, deletes, user
// deletions, a rolled-back transaction, TRUNCATE) and checks after each
// that user_theme_totals equals the aggregate recomputed from sets, with
// no row left at zero.
func TestThemeTotalsFollowEveryWrite(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			w := &collectionWriter{db: testdb.New(t), r: rand.New(rand.NewPCG(seed, 0x7e3e5))}
			for range 4 {
				w.addUser(t)
			}
			writes := w.writes()
			const steps = 300
			for step := range steps {
				if step == steps/2 {
					mustExec(t, w.db, "TRUNCATE sets CASCADE")
					if diff := totalsDrift(t, w.db); diff != "" {
						t.Fatalf("after TRUNCATE sets: totals differ from sets (-recomputed +stored):\n%s", diff)
					}
				}
				write := writes[w.r.IntN(len(writes))]
				set := ""
				if write.oneSet {
					if set = w.set(t); set == "" {
						continue
					}
				}
				write.run(t, set)
				if diff := totalsDrift(t, w.db); diff != "" {
					t.Fatalf("step %d (%s): totals differ from sets (-recomputed +stored):\n%s", step, write.name, diff)
				}
			}
			if got := storedTotals(t, w.db); len(got) < 5 {
				t.Errorf("only %d totals rows at the end: the sequence proved little", len(got))
			}
		})
	}
}

// TestThemeTotalsUnderConcurrentWriters has several writers change one
// user's collection at once, each in its own transactions: moving sets
// between the same two themes in opposite directions (alone, several at
// once, or there and back in two statements), adding and deleting sets.
// No transaction may fail (a deadlock or a serialization failure would),
// and the totals must be exact at the end.
func TestThemeTotalsUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	user := mustInsert(t, db, "INSERT INTO users (email) VALUES ('busy@example.com')")
	const writers, transactions = 4, 80

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for n := range writers {
		from, to := "City", "Space"
		if n%2 == 1 {
			from, to = to, from
		}
		own := []string{
			mustInsert(t, db, "INSERT INTO sets (user_id, title, theme, piece_count) VALUES (?, 'w', ?, 10)", user, from),
			mustInsert(t, db, "INSERT INTO sets (user_id, title, theme, piece_count) VALUES (?, 'w', ?, 20)", user, to),
		}
		r := rand.New(rand.NewPCG(uint64(n), 0xc0c0))
		wg.Go(func() {
			for i := range transactions {
				var err error
				if own, err = concurrentStep(db, r, user, own, from, to); err != nil {
					errs <- fmt.Errorf("writer %d, transaction %d: %w", n, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if diff := totalsDrift(t, db); diff != "" {
		t.Errorf("totals differ from sets after the concurrent writes (-recomputed +stored):\n%s", diff)
	}
}

// concurrentStep runs one transaction of a concurrent writer over its own
// sets (so that the writers contend on the totals, not on the sets) and
// returns the writer's sets after it.
func concurrentStep(db *bun.DB, r *rand.Rand, user string, own []string, from, to string) ([]string, error) {
	ctx := context.Background()
	pick := own[r.IntN(len(own))]
	var added string
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		flip := "UPDATE sets SET theme = CASE theme WHEN ? THEN ? ELSE ? END WHERE id IN (?)"
		var err error
		switch k := r.IntN(6); {
		case k == 0: // one set, from → to or back
			_, err = tx.ExecContext(ctx, flip, from, to, from, bun.In([]string{pick}))
		case k == 1: // all of them at once
			_, err = tx.ExecContext(ctx, flip, from, to, from, bun.In(own))
		case k == 2: // from → to, then to → from, in two statements
			if _, err = tx.ExecContext(ctx, "UPDATE sets SET theme = ? WHERE id IN (?)", to, bun.In([]string{pick})); err == nil {
				_, err = tx.ExecContext(ctx, "UPDATE sets SET theme = ? WHERE id IN (?)", from, bun.In([]string{own[0]}))
			}
		case k == 3 && len(own) > 1:
			_, err = tx.ExecContext(ctx, "DELETE FROM sets WHERE id = ?", pick)
		default:
			theme := []string{from, to}[r.IntN(2)]
			err = tx.NewRaw("INSERT INTO sets (user_id, title, theme, piece_count, quantity) VALUES (?, 'new', ?, ?, ?) RETURNING id",
				user, theme, r.IntN(1000), 1+r.IntN(3)).Scan(ctx, &added)
		}
		return err
	})
	if err != nil {
		return own, err
	}
	if added != "" {
		return append(own, added), nil
	}
	var exists bool
	if err := db.NewRaw("SELECT EXISTS (SELECT 1 FROM sets WHERE id = ?)", pick).Scan(ctx, &exists); err != nil {
		return own, err
	}
	if !exists {
		own = slices.DeleteFunc(own, func(id string) bool { return id == pick })
	}
	return own, nil
}

// TestTitleUpdateLeavesThemeTotalsAlone: an update that changes none of
// owner, theme, piece count and quantity (a title, tags, a theme set to
// itself) writes nothing to user_theme_totals: its rows keep their version.
func TestTitleUpdateLeavesThemeTotalsAlone(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	user := mustInsert(t, db, "INSERT INTO users (email) VALUES ('quiet@example.com')")
	for _, theme := range []any{"City", "City", "Space", nil} {
		mustInsert(t, db, "INSERT INTO sets (user_id, title, theme, piece_count) VALUES (?, 't', ?, 100)", user, theme)
	}
	versions := func() []string {
		return mustStrings(t, db, `SELECT theme || ' xmin=' || xmin || ' ctid=' || ctid FROM user_theme_totals ORDER BY theme`)
	}
	before := versions()
	if len(before) != 2 {
		t.Fatalf("totals rows before: %v, want City and Space", before)
	}
	for _, update := range []string{
		"UPDATE sets SET title = 'renamed' WHERE user_id = ?",
		"UPDATE sets SET tags = '{gift}', notes = 'n', is_built = true WHERE user_id = ?",
		"UPDATE sets SET theme = theme, quantity = quantity, piece_count = piece_count WHERE user_id = ?",
	} {
		mustExec(t, db, update, user)
		if diff := cmp.Diff(before, versions()); diff != "" {
			t.Errorf("%s rewrote totals rows (-before +after):\n%s", update, diff)
		}
	}
	if diff := totalsDrift(t, db); diff != "" {
		t.Errorf("totals differ from sets (-recomputed +stored):\n%s", diff)
	}
}

// TestDeletingUserDeletesTheirThemeTotals: deleting a user cascades to
// their sets and their totals (in an order the database picks); the
// deletion succeeds, leaves none of their totals and keeps everyone else's.
func TestDeletingUserDeletesTheirThemeTotals(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	var users []string
	for _, email := range []string{"leaving@example.com", "staying@example.com"} {
		u := mustInsert(t, db, "INSERT INTO users (email) VALUES (?)", email)
		users = append(users, u)
		mustExec(t, db, `INSERT INTO sets (user_id, title, theme, piece_count)
			SELECT ?, 't', (ARRAY['City', 'Space'])[1 + g % 2], g FROM generate_series(1, 5) g`, u)
	}
	if _, err := db.ExecContext(t.Context(), "DELETE FROM users WHERE id = ?", users[0]); err != nil {
		t.Fatalf("delete a user with sets: %v", err)
	}
	want := []themeTotal{{"staying@example.com", "City", 2, 6}, {"staying@example.com", "Space", 3, 9}}
	if diff := cmp.Diff(want, storedTotals(t, db)); diff != "" {
		t.Errorf("totals after deleting a user (-want +got):\n%s", diff)
	}
}

// TestTruncateEmptiesThemeTotals: TRUNCATE fires no row triggers, so the
// totals are emptied by their own trigger, also when sets is truncated
// through users (the benchmark's seed does that); and they count again
// from zero afterwards.
func TestTruncateEmptiesThemeTotals(t *testing.T) {
	t.Parallel()
	for _, truncate := range []string{"TRUNCATE sets CASCADE", "TRUNCATE users, sets, set_images CASCADE"} {
		t.Run(truncate, func(t *testing.T) {
			t.Parallel()
			db := testdb.New(t)
			fill := func(email string) {
				u := mustInsert(t, db, "INSERT INTO users (email) VALUES (?)", email)
				mustExec(t, db, "INSERT INTO sets (user_id, title, theme, piece_count) VALUES (?, 't', 'City', 7)", u)
			}
			fill("before@example.com")
			mustExec(t, db, truncate)
			if got := storedTotals(t, db); len(got) != 0 {
				t.Errorf("totals after %s: %v, want none", truncate, got)
			}
			fill("after@example.com")
			if diff := totalsDrift(t, db); diff != "" {
				t.Errorf("totals after refilling (-recomputed +stored):\n%s", diff)
			}
		})
	}
}

// TestThemeTotalsMigrationBackfills migrates a database that already holds
// collections (the situation of the release that adds the table): the new
// table must hold their exact totals, sets without a theme left out and
// totals past the 32-bit range kept whole. Rolling back drops it, and
// migrating again backfills the same totals with working triggers.
func TestThemeTotalsMigrationBackfills(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	labels := migrationLabels(t)
	step := slices.IndexFunc(labels, func(l string) bool { return strings.HasSuffix(l, "_create_user_theme_totals") })
	if step < 0 {
		t.Fatalf("no create_user_theme_totals migration among %v", labels)
	}
	mustMigrate(t, db, firstMigrations(t, step))

	sets := map[string][]struct {
		theme           any
		pieces          any
		quantity        int
		copiesOfTheSame int
	}{
		"ann@example.com": {{"City", 100, 2, 1}, {"City", nil, 1, 1}, {"Space", 5, 1, 1}, {nil, 7, 3, 1}},
		"bob@example.com": {{"Technic", 1_000_000, 10_000, 3}, {"city", 1, 1, 1}},
		"cat@example.com": {{nil, 50, 1, 2}},
	}
	for email, rows := range sets {
		u := mustInsert(t, db, "INSERT INTO users (email) VALUES (?)", email)
		for _, s := range rows {
			mustExec(t, db, `INSERT INTO sets (user_id, title, theme, piece_count, quantity)
				SELECT ?, 'old', ?, ?, ? FROM generate_series(1, ?)`, u, s.theme, s.pieces, s.quantity, s.copiesOfTheSame)
		}
	}
	want := []themeTotal{
		{"ann@example.com", "City", 2, 200},
		{"ann@example.com", "Space", 1, 5},
		{"bob@example.com", "Technic", 3, 30_000_000_000},
		{"bob@example.com", "city", 1, 1},
	}

	m := newMigrator(t, db, migrations.Files())
	for _, pass := range []string{"first migration", "migration after a rollback"} {
		if _, err := m.Migrate(t.Context()); err != nil {
			t.Fatalf("%s: %v", pass, err)
		}
		if diff := cmp.Diff(want, storedTotals(t, db)); diff != "" {
			t.Errorf("%s: totals (-want +got):\n%s", pass, diff)
		}
		if pass == "first migration" {
			if _, err := m.Rollback(t.Context()); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if tableExists(t, db, "user_theme_totals") {
				t.Fatal("user_theme_totals exists after rolling its migration back")
			}
			// Written while no trigger counts it: the next backfill must.
			mustExec(t, db, "UPDATE sets SET theme = 'City' WHERE theme = 'Space'")
			want = slices.Delete(want, 1, 2)
			want[0] = themeTotal{"ann@example.com", "City", 3, 205}
		}
	}
	mustExec(t, db, "DELETE FROM sets WHERE theme = 'city'")
	if diff := totalsDrift(t, db); diff != "" {
		t.Errorf("after a delete once migrated again, totals differ from sets (-recomputed +stored):\n%s", diff)
	}
}
