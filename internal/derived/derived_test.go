package derived_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/derived"
	"github.com/brickgallery/sets/internal/testdb"
)

// Fixed ids, so that tests can name rows in their corruptions and in what
// they expect verify to print.
const (
	ann   = "00000000-0000-0000-0000-00000000000a" // ann@example.com: sets in two themes, a wish
	bob   = "00000000-0000-0000-0000-00000000000b" // bob@example.com: one set
	cleo  = "00000000-0000-0000-0000-00000000000c" // no email, no sets
	set1  = "00000000-0000-0000-0000-000000000101"
	set2  = "00000000-0000-0000-0000-000000000102"
	set3  = "00000000-0000-0000-0000-000000000103"
	wish1 = "00000000-0000-0000-0000-000000000201"
)

// mustCollection returns a fresh migrated database holding a small
// collection written through the triggers, so derived data starts right.
func mustCollection(tb testing.TB) *bun.DB {
	tb.Helper()
	db, _ := collection(tb)
	return db
}

// collection is mustCollection, and its database's URL.
func collection(tb testing.TB) (*bun.DB, string) {
	tb.Helper()
	url := testdb.URL(tb)
	db := testdb.Open(tb, url)
	mustExec(tb, db, `INSERT INTO users (id, email) VALUES
		('`+ann+`', 'ann@example.com'), ('`+bob+`', 'bob@example.com'), ('`+cleo+`', NULL)`)
	mustExec(tb, db, `INSERT INTO sets (id, user_id, title, set_number, theme, piece_count, quantity) VALUES
		('`+set1+`', '`+ann+`', 'Millennium Falcon', '75192', 'Star Wars', 7541, 1),
		('`+set2+`', '`+ann+`', 'AT-AT', '75313-01', 'Star Wars', 6785, 2),
		('`+set3+`', '`+ann+`', 'Bonsai Tree', NULL, 'Botanical', NULL, 1)`)
	mustExec(tb, db, `INSERT INTO sets (user_id, title, set_number, theme, piece_count)
		VALUES ('`+bob+`', 'Police Station', '60316-1', 'City', 668)`)
	mustExec(tb, db, `INSERT INTO wishlist_items (id, user_id, title, set_number)
		VALUES ('`+wish1+`', '`+ann+`', 'Rivendell', ' 10316 ')`)
	return db, url
}

// bypass runs statements with the application's triggers off and on again
// after, in one transaction, as pg_restore --disable-triggers loads a table
// (which turns the foreign keys' off too, which needs a superuser; the test
// databases' owner is not one).
func bypass(tb testing.TB, db *bun.DB, statements ...string) {
	tb.Helper()
	err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		off := []string{"ALTER TABLE sets DISABLE TRIGGER USER", "ALTER TABLE wishlist_items DISABLE TRIGGER USER"}
		on := []string{"ALTER TABLE sets ENABLE TRIGGER USER", "ALTER TABLE wishlist_items ENABLE TRIGGER USER"}
		for _, s := range append(append(off, statements...), on...) {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("write with triggers off: %v", err)
	}
}

func mustExec(tb testing.TB, db bun.IDB, query string) {
	tb.Helper()
	if _, err := db.ExecContext(context.Background(), query); err != nil {
		tb.Fatalf("exec %q: %v", query, err)
	}
}

func mustVerify(tb testing.TB, db *bun.DB, limit int) map[string]derived.Report {
	tb.Helper()
	reports, err := derived.Verify(context.Background(), db, limit)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	byKind := map[string]derived.Report{}
	for _, r := range reports {
		byKind[r.Kind] = r
	}
	return byKind
}

// differences returns what verify lists, every kind included, as
// "kind: subject: expected E, found F" lines.
func differences(tb testing.TB, db *bun.DB) []string {
	tb.Helper()
	var lines []string
	for _, k := range derived.Kinds() {
		r := mustVerify(tb, db, 100)[k.Name]
		for _, d := range r.Shown {
			lines = append(lines, fmt.Sprintf("%s: %s: expected %s, found %s", k.Name, d.Subject, d.Expected, d.Found))
		}
	}
	return lines
}

func TestVerifyFindsNothingWhenTriggersKeptEverything(t *testing.T) {
	db := mustCollection(t)
	mustExec(t, db, "UPDATE sets SET theme = 'City', quantity = 3 WHERE id = '"+set2+"'")
	mustExec(t, db, "UPDATE wishlist_items SET set_number = '10316-2'")
	mustExec(t, db, "DELETE FROM sets WHERE id = '"+set3+"'")
	if got := differences(t, db); len(got) != 0 {
		t.Errorf("verify found differences in data written through the triggers:\n%s", strings.Join(got, "\n"))
	}
}

func TestVerifyThemeTotals(t *testing.T) {
	tests := []struct {
		name    string
		corrupt string
		want    []string
	}{{
		name:    "a wrong total shows expected and found",
		corrupt: "UPDATE user_theme_totals SET set_count = 9 WHERE theme = 'Star Wars'",
		want: []string{"user_theme_totals: user ann@example.com, theme 'Star Wars': " +
			"expected set_count 2, piece_total 21111, found set_count 9, piece_total 21111"},
	}, {
		name:    "a missing total",
		corrupt: "DELETE FROM user_theme_totals WHERE theme = 'City'",
		want: []string{"user_theme_totals: user bob@example.com, theme 'City': " +
			"expected set_count 1, piece_total 668, found no row"},
	}, {
		name:    "a total of a theme that has no sets any more",
		corrupt: "DELETE FROM sets WHERE id = '" + set3 + "'",
		want: []string{"user_theme_totals: user ann@example.com, theme 'Botanical': " +
			"expected no row, found set_count 1, piece_total 0"},
	}, {
		name:    "a total of a user with no sets, named by id",
		corrupt: "INSERT INTO user_theme_totals VALUES ('" + cleo + "', 'Space', 1, 10)",
		want: []string{"user_theme_totals: user " + cleo + ", theme 'Space': " +
			"expected no row, found set_count 1, piece_total 10"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustCollection(t)
			bypass(t, db, tt.corrupt)
			if diff := cmp.Diff(tt.want, differences(t, db)); diff != "" {
				t.Errorf("differences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyCanonicalKeys(t *testing.T) {
	tests := []struct {
		name    string
		corrupt string
		want    []string
	}{{
		name:    "a set's key left NULL",
		corrupt: "UPDATE sets SET canonical_set_number = NULL WHERE id = '" + set1 + "'",
		want: []string{"sets.canonical_set_number: user ann@example.com, set " + set1 +
			" (Millennium Falcon), set_number '75192': expected '75192-1', found NULL"},
	}, {
		name:    "a set's key derived from an older number",
		corrupt: "UPDATE sets SET set_number = '75313-2' WHERE id = '" + set2 + "'",
		want: []string{"sets.canonical_set_number: user ann@example.com, set " + set2 +
			" (AT-AT), set_number '75313-2': expected '75313-2', found '75313-1'"},
	}, {
		name:    "a key on a set without a number",
		corrupt: "UPDATE sets SET canonical_set_number = 'x-1' WHERE id = '" + set3 + "'",
		want: []string{"sets.canonical_set_number: user ann@example.com, set " + set3 +
			" (Bonsai Tree), set_number NULL: expected NULL, found 'x-1'"},
	}, {
		name:    "a wishlist item's wrong key",
		corrupt: "UPDATE wishlist_items SET canonical_set_number = '10316'",
		want: []string{"wishlist_items.canonical_set_number: user ann@example.com, wishlist item " + wish1 +
			" (Rivendell), set_number ' 10316 ': expected '10316-1', found '10316'"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustCollection(t)
			bypass(t, db, tt.corrupt)
			if diff := cmp.Diff(tt.want, differences(t, db)); diff != "" {
				t.Errorf("differences (-want +got):\n%s", diff)
			}
		})
	}
}

// The collection's log: ann's three sets at 1–3 and her wishlist item at
// 4, bob's set at 1.
func TestVerifyChangeLog(t *testing.T) {
	tests := []struct {
		name    string
		corrupt string
		want    []string
	}{{
		name:    "a head behind its log",
		corrupt: "UPDATE change_heads SET position = 2 WHERE user_id = '" + ann + "'",
		want: []string{"change log: user ann@example.com, change_heads: " +
			"expected position at least 4 (its last entry), found position 2"},
	}, {
		name:    "no head",
		corrupt: "DELETE FROM change_heads WHERE user_id = '" + bob + "'",
		want:    []string{"change log: user bob@example.com, change_heads: expected position at least 1 (its last entry), found no row"},
	}, {
		name:    "a hole in the positions",
		corrupt: "DELETE FROM changes WHERE user_id = '" + ann + "' AND position IN (2, 3)",
		want:    []string{"change log: user ann@example.com, changes positions 2 to 3: expected an entry at each, found none"},
	}, {
		name:    "a head past the last entry",
		corrupt: "UPDATE change_heads SET position = 6 WHERE user_id = '" + ann + "'",
		want:    []string{"change log: user ann@example.com, changes positions 5 to 6: expected an entry at each, found none"},
	}, {
		name:    "pruned from the start is no difference",
		corrupt: "DELETE FROM changes WHERE user_id = '" + ann + "' AND position < 3",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustCollection(t)
			mustExec(t, db, tt.corrupt)
			if diff := cmp.Diff(tt.want, differences(t, db)); diff != "" {
				t.Errorf("differences (-want +got):\n%s", diff)
			}
		})
	}
}

// Repair moves the heads up and fills the holes with RESYNC, which the
// subscribers hear of at once.
func TestRepairChangeLog(t *testing.T) {
	db, url := collection(t)
	mustExec(t, db, "DELETE FROM changes WHERE user_id = '"+ann+"' AND position = 2")
	mustExec(t, db, "UPDATE change_heads SET position = 5 WHERE user_id = '"+ann+"'")
	mustExec(t, db, "DELETE FROM change_heads WHERE user_id = '"+bob+"'")
	listener := listen(t, url)

	if got := mustRepair(t, db)["change log"]; got != 3 {
		t.Errorf("repair changed %d rows of the change log, want 3 (bob's head, ann's positions 2 and 5)", got)
	}
	if got := differences(t, db); len(got) != 0 {
		t.Errorf("verify after repair:\n%s", strings.Join(got, "\n"))
	}
	var kinds []string
	if err := db.NewRaw("SELECT kind || ' ' || position FROM changes WHERE user_id = ? ORDER BY position", ann).
		Scan(context.Background(), &kinds); err != nil {
		t.Fatal(err)
	}
	want := []string{"SET_CHANGED 1", "RESYNC 2", "SET_CHANGED 3", "WISHLIST_ITEM_CHANGED 4", "RESYNC 5"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("ann's log after repair (-want +got):\n%s", diff)
	}
	got := map[string]bool{}
	for len(got) < 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := listener.WaitForNotification(ctx)
		cancel()
		if err != nil {
			t.Fatalf("notifications after repair: %v (got %v)", err, got)
		}
		got[n.Payload] = true
	}
	if !got[ann+" 5"] || !got[bob+" 1"] {
		t.Errorf("notified %v, want ann's head 5 and bob's 1", got)
	}
}

// listen returns a connection of its own to url, listening on
// sets_changes: directly, as LISTEN needs a session of its own, which a
// transaction pooler does not give.
func listen(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), testdb.Direct(url))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(context.Background(), "LISTEN sets_changes"); err != nil {
		tb.Fatal(err)
	}
	return conn
}

func TestVerifyDisabledTriggers(t *testing.T) {
	db := mustCollection(t)
	mustExec(t, db, "ALTER TABLE sets DISABLE TRIGGER sets_user_theme_totals_insert")
	mustExec(t, db, "ALTER TABLE wishlist_items ENABLE REPLICA TRIGGER wishlist_items_canonical_set_number")
	want := []string{
		"triggers: table sets, trigger sets_user_theme_totals_insert: expected enabled, found disabled",
		"triggers: table wishlist_items, trigger wishlist_items_canonical_set_number: expected enabled, found enabled for replicas only",
	}
	if diff := cmp.Diff(want, differences(t, db)); diff != "" {
		t.Errorf("differences (-want +got):\n%s", diff)
	}
}

func TestVerifyCountsAllButListsAtMostLimit(t *testing.T) {
	db := mustCollection(t)
	mustExec(t, db, `INSERT INTO sets (user_id, title, set_number)
		SELECT '`+bob+`', 'Set ' || i, (1000 + i)::text FROM generate_series(1, 30) AS i`)
	bypass(t, db, "UPDATE sets SET canonical_set_number = NULL")
	r := mustVerify(t, db, 5)["sets.canonical_set_number"]
	// 30 new sets and 3 of the collection's 4 (set3 has no number).
	if r.Count != 33 || len(r.Shown) != 5 {
		t.Errorf("verify with limit 5: count %d, listed %d; want 33, 5", r.Count, len(r.Shown))
	}
}

// visible returns every row of the tables users see, without the derived
// columns, as JSON in id order: what repair must leave exactly as it was.
func visible(tb testing.TB, db bun.IDB) []string {
	tb.Helper()
	var rows []string
	err := db.NewRaw(`
		SELECT x FROM (
		    SELECT 'users' AS t, id, to_jsonb(u)::text AS x FROM users AS u
		    UNION ALL SELECT 'sets', id, (to_jsonb(s) - 'canonical_set_number')::text FROM sets AS s
		    UNION ALL SELECT 'set_images', id, to_jsonb(i)::text FROM set_images AS i
		    UNION ALL SELECT 'wishlist_items', id, (to_jsonb(w) - 'canonical_set_number')::text FROM wishlist_items AS w
		) AS v ORDER BY t, id`).Scan(context.Background(), &rows)
	if err != nil {
		tb.Fatalf("read visible rows: %v", err)
	}
	return rows
}

func mustRepair(tb testing.TB, db *bun.DB) map[string]int64 {
	tb.Helper()
	repaired, err := derived.Repair(context.Background(), db, 5*time.Second)
	if err != nil {
		tb.Fatalf("repair: %v", err)
	}
	changed := map[string]int64{}
	for _, r := range repaired {
		changed[r.Kind] = r.Changed
	}
	return changed
}

func TestRepairRebuildsEverythingOnceAndNothingElse(t *testing.T) {
	db := mustCollection(t)
	bypass(t, db,
		"UPDATE sets SET canonical_set_number = NULL",
		"UPDATE wishlist_items SET canonical_set_number = 'stale'",
		"UPDATE user_theme_totals SET piece_total = 1 WHERE theme = 'Star Wars'",
		"DELETE FROM sets WHERE user_id = '"+bob+"'", // bob's City total stays behind
		"INSERT INTO user_theme_totals VALUES ('"+cleo+"', 'Space', 2, 20)",
		"INSERT INTO sets (user_id, title, set_number, theme, piece_count) VALUES ('"+cleo+"', 'Galaxy Explorer', '10497', 'Icons', 1254)",
	)
	mustExec(t, db, "ALTER TABLE sets DISABLE TRIGGER sets_canonical_set_number")
	before := visible(t, db)

	want := map[string]int64{
		"triggers":                            1,
		"sets.canonical_set_number":           3, // set1, set2, cleo's; set3 has no number
		"wishlist_items.canonical_set_number": 1,
		"user_theme_totals":                   4, // Star Wars fixed, City and Space deleted, Icons added
		"change log":                          0, // the fixed keys logged as they were written
	}
	if diff := cmp.Diff(want, mustRepair(t, db)); diff != "" {
		t.Errorf("first repair changed (-want +got):\n%s", diff)
	}
	if got := differences(t, db); len(got) != 0 {
		t.Errorf("verify after repair:\n%s", strings.Join(got, "\n"))
	}
	if diff := cmp.Diff(before, visible(t, db)); diff != "" {
		t.Errorf("repair changed what users see (-before +after):\n%s", diff)
	}
	for kind, n := range mustRepair(t, db) {
		if n != 0 {
			t.Errorf("second repair changed %d of %s, want 0", n, kind)
		}
	}
}

func TestRepairGivesUpWhenAWriterHoldsItsLock(t *testing.T) {
	db := mustCollection(t)
	bypass(t, db, "DELETE FROM user_theme_totals")
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE sets SET notes = 'busy' WHERE id = '"+set1+"'"); err != nil {
		t.Fatal(err)
	}
	_, err = derived.Repair(ctx, db, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "lock sets") {
		t.Fatalf("repair with a writer holding sets: err %v, want a lock error naming sets", err)
	}
	if n := mustVerify(t, db, 1)["user_theme_totals"].Count; n != 3 {
		t.Errorf("after the failed repair, %d theme totals differ; want all 3 left as they were", n)
	}
}

// TestRepairIsExactUnderConcurrentWrites rebuilds totals while other
// sessions keep adding, moving and deleting sets through the triggers: the
// locks must make the rebuilt totals and the triggers' later deltas add up.
func TestRepairIsExactUnderConcurrentWrites(t *testing.T) {
	db := mustCollection(t)
	bypass(t, db, "DELETE FROM user_theme_totals")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				q := []string{
					fmt.Sprintf("INSERT INTO sets (user_id, title, theme, piece_count) VALUES ('%s', 'w%d', 'Theme %d', %d)", ann, w, i%3, i),
					fmt.Sprintf("UPDATE sets SET theme = 'Theme %d' WHERE id = (SELECT id FROM sets WHERE title = 'w%d' ORDER BY random() LIMIT 1)", i%4, w),
					fmt.Sprintf("DELETE FROM sets WHERE id = (SELECT id FROM sets WHERE title = 'w%d' ORDER BY random() LIMIT 1)", w),
				}[i%3]
				if _, err := db.ExecContext(context.Background(), q); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	for range 3 {
		mustRepair(t, db)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := differences(t, db); len(got) != 0 {
		t.Errorf("verify after repairs among concurrent writes:\n%s", strings.Join(got, "\n"))
	}
}
