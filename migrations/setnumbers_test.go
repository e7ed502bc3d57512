package migrations_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// canonicalMigration is SPEC §7's migration, which must fill in the key of
// every set written before it.
const canonicalMigration = "20261205000100_add_canonical_set_numbers"

// TestCanonicalSetNumberBackfill stops the schema just before the canonical
// key existed, writes sets the way an older release did (more than one
// backfill batch of them), migrates, and checks that every old set has its
// key while no updated_at moved: the backfill is not an edit of anyone's set.
func TestCanonicalSetNumberBackfill(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	labels := migrationLabels(t)
	at := slices.Index(labels, canonicalMigration)
	if at < 0 {
		t.Fatalf("migration %s is not embedded", canonicalMigration)
	}
	mustMigrate(t, db, firstMigrations(t, at))

	mustExec(t, db, `INSERT INTO users (email) VALUES ('old@example.com')`)
	// 12,000 sets: three batches of the backfill's 5,000.
	mustExec(t, db, `
		INSERT INTO sets (user_id, title, set_number, created_at, updated_at)
		SELECT u.id, 'Bulk ' || g, CASE WHEN g % 2 = 0 THEN (10000 + g)::text ELSE (10000 + g) || '-01' END,
		       '2024-01-01', '2024-01-02 03:04:05.678901'
		FROM users u, generate_series(1, 12000) AS g`)
	entered := map[string]*string{
		"75192": ptr("75192-1"), " 75192-1 ": ptr("75192-1"), "75192-01": ptr("75192-1"),
		"75192-2": ptr("75192-2"), "SW0001a": ptr("sw0001a-1"), "sw0001A-1": ptr("sw0001a-1"),
		"10179-1-1": ptr("10179-1-1"), "": nil,
	}
	for number := range entered {
		mustExec(t, db, `INSERT INTO sets (user_id, title, set_number, updated_at)
			SELECT id, ?, ?, '2024-01-02 03:04:05.678901' FROM users`, "Typed "+number, number)
	}
	mustExec(t, db, `INSERT INTO sets (user_id, title, updated_at)
		SELECT id, 'No number', '2024-01-02 03:04:05.678901' FROM users`)
	stamps := func() []string {
		return mustStrings(t, db, `SELECT id || ' ' || updated_at FROM sets ORDER BY id`)
	}
	before := stamps()

	if diff := cmp.Diff([]string{canonicalMigration}, mustMigrate(t, db, firstMigrations(t, at+1))); diff != "" {
		t.Fatalf("applied (-want +got):\n%s", diff)
	}

	for number, want := range entered {
		var got *string
		if err := db.NewRaw(`SELECT canonical_set_number FROM sets WHERE title = ?`, "Typed "+number).
			Scan(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("old set numbered %q: key (-want +got):\n%s", number, diff)
		}
	}
	var missing, wrong int
	if err := db.NewRaw(`SELECT count(*) FILTER (WHERE canonical_set_number IS NULL),
			count(*) FILTER (WHERE canonical_set_number <> (10000 + substring(title FROM 6)::int) || '-1')
		FROM sets WHERE title LIKE 'Bulk %'`).Scan(context.Background(), &missing, &wrong); err != nil {
		t.Fatal(err)
	}
	if missing != 0 || wrong != 0 {
		t.Errorf("bulk sets after the backfill: %d without a key, %d with a wrong one; want none", missing, wrong)
	}
	if diff := cmp.Diff(before, stamps()); diff != "" {
		t.Errorf("updated_at moved in the backfill (-before +after):\n%s", diff)
	}

	// The index the queries use is there and valid.
	if got := mustStrings(t, db, `SELECT indexdef FROM pg_indexes WHERE indexname = 'sets_user_canonical_set_number_idx'`); len(got) != 1 ||
		got[0] != "CREATE INDEX sets_user_canonical_set_number_idx ON public.sets USING btree (user_id, canonical_set_number)" {
		t.Errorf("index: got %q, want one on (user_id, canonical_set_number)", got)
	}
	// An ordinary update still moves updated_at (the backfill's exemption is its own).
	mustExec(t, db, `UPDATE sets SET notes = 'edited' WHERE title = 'No number'`)
	if got := mustStrings(t, db, `SELECT (updated_at > '2024-01-02 03:04:05.678901')::text FROM sets WHERE title = 'No number'`); !cmp.Equal(got, []string{"true"}) {
		t.Errorf("updated_at moved by an edit after the migration: got %v, want true", got)
	}
}

func ptr[T any](v T) *T { return &v }
