package migrations_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
)

// fkMigration is SPEC §10's migration: the wishlist foreign key over sets
// whose wishlist_item_id had none.
const fkMigration = "20261205000300_add_sets_wishlist_item_fk"

// TestWishlistForeignKeyOverExistingData stops the schema just before the
// foreign key, writes sets the way the release before it did (any UUID as
// wishlistItemId: 10% random, some pointing at another user's item, some at
// the owner's own item), then goes up, down and up again: the dangling
// values wait in the side table and come back exactly, the real links stay,
// no updated_at moves, and afterwards the database itself refuses a link to
// another user's item.
func TestWishlistForeignKeyOverExistingData(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	labels := migrationLabels(t)
	at := slices.Index(labels, fkMigration)
	if at < 0 {
		t.Fatalf("migration %s is not embedded", fkMigration)
	}
	mustMigrate(t, db, firstMigrations(t, at))

	mustExec(t, db, `INSERT INTO users (email) VALUES ('alice@example.com'), ('bob@example.com')`)
	mustExec(t, db, `INSERT INTO wishlist_items (user_id, title)
		SELECT id, 'Wish of ' || email FROM users`)
	// 12,000 sets of alice's, more than two batches; every tenth points at
	// nothing.
	mustExec(t, db, `INSERT INTO sets (user_id, title, wishlist_item_id, updated_at)
		SELECT u.id, 'Bulk ' || g, CASE WHEN g % 10 = 0 THEN gen_random_uuid() END, '2024-01-02 03:04:05.678901'
		FROM users u, generate_series(1, 12000) AS g WHERE u.email = 'alice@example.com'`)
	mustExec(t, db, `INSERT INTO sets (user_id, title, wishlist_item_id, updated_at)
		SELECT u.id, 'Own link', w.id, '2024-01-02 03:04:05.678901'
		FROM users u JOIN wishlist_items w ON w.user_id = u.id WHERE u.email = 'alice@example.com'`)
	mustExec(t, db, `INSERT INTO sets (user_id, title, wishlist_item_id, updated_at)
		SELECT a.id, 'Bob''s item', w.id, '2024-01-02 03:04:05.678901'
		FROM users a, users b JOIN wishlist_items w ON w.user_id = b.id
		WHERE a.email = 'alice@example.com' AND b.email = 'bob@example.com'`)
	links := func() []string {
		return mustStrings(t, db, `SELECT id || ' ' || coalesce(wishlist_item_id::text, '-') || ' ' || updated_at FROM sets ORDER BY id`)
	}
	original := links()
	dangling := mustStrings(t, db, `SELECT s.id || ' ' || s.wishlist_item_id FROM sets s
		WHERE s.wishlist_item_id IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM wishlist_items w WHERE w.id = s.wishlist_item_id AND w.user_id = s.user_id)
		ORDER BY 1`)
	if len(dangling) != 1201 {
		t.Fatalf("fixture: %d dangling links, want 1,201 (1,200 random, one to bob's item)", len(dangling))
	}

	up := func() {
		t.Helper()
		if diff := cmp.Diff([]string{fkMigration}, mustMigrate(t, db, firstMigrations(t, at+1))); diff != "" {
			t.Fatalf("applied (-want +got):\n%s", diff)
		}
		kept := mustStrings(t, db, `SELECT set_id || ' ' || wishlist_item_id FROM sets_dangling_wishlist_item_ids ORDER BY 1`)
		if diff := cmp.Diff(dangling, kept); diff != "" {
			t.Errorf("side table (-dangling before +kept):\n%s", diff)
		}
		if got := mustStrings(t, db, `SELECT count(*)::text FROM sets s JOIN sets_dangling_wishlist_item_ids d ON d.set_id = s.id
			WHERE s.wishlist_item_id IS NOT NULL`); !cmp.Equal(got, []string{"0"}) {
			t.Errorf("sets still holding a moved value: %v", got)
		}
		if got := mustStrings(t, db, `SELECT count(*)::text FROM sets WHERE title = 'Own link' AND wishlist_item_id IS NOT NULL`); !cmp.Equal(got, []string{"1"}) {
			t.Errorf("the set linked to its owner's item lost its link: %v", got)
		}
		if got := mustStrings(t, db, `SELECT DISTINCT updated_at::text FROM sets`); !cmp.Equal(got, []string{"2024-01-02 03:04:05.678901"}) {
			t.Errorf("updated_at moved: %v", got)
		}
		if got := mustStrings(t, db, `SELECT convalidated::text FROM pg_constraint WHERE conname = 'sets_wishlist_item_fk'`); !cmp.Equal(got, []string{"true"}) {
			t.Errorf("constraint validated: %v, want true", got)
		}
	}
	up()

	m := newMigrator(t, db, firstMigrations(t, at+1))
	if rolled, err := m.Rollback(t.Context()); err != nil || !cmp.Equal(rolled, []string{fkMigration}) {
		t.Fatalf("rollback: %v %v", rolled, err)
	}
	if diff := cmp.Diff(original, links()); diff != "" {
		t.Errorf("after up and down, sets (-original +now):\n%s", diff)
	}
	up()

	// The database refuses what the API must refuse, and a deleted item
	// only unlinks.
	_, err := db.ExecContext(t.Context(), `UPDATE sets SET wishlist_item_id = w.id FROM users u, wishlist_items w
		WHERE sets.title = 'Bulk 1' AND u.email = 'bob@example.com' AND w.user_id = u.id`)
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "23503" || pg.ConstraintName != "sets_wishlist_item_fk" {
		t.Errorf("linking alice's set to bob's item: got %v, want a sets_wishlist_item_fk violation", err)
	}
	mustExec(t, db, `DELETE FROM wishlist_items w USING users u WHERE w.user_id = u.id AND u.email = 'alice@example.com'`)
	if got := mustStrings(t, db, `SELECT coalesce(wishlist_item_id::text, '-') || ' ' || (user_id IS NOT NULL)::text
		FROM sets WHERE title = 'Own link'`); !cmp.Equal(got, []string{"- true"}) {
		t.Errorf("after deleting the item, its set: %v, want unlinked and still alice's", got)
	}
	mustExec(t, db, `DELETE FROM users`)
	if got := mustStrings(t, db, `SELECT (SELECT count(*) FROM sets) + (SELECT count(*) FROM wishlist_items) + (SELECT count(*) FROM sets_dangling_wishlist_item_ids) || ''`); !cmp.Equal(got, []string{"0"}) {
		t.Errorf("rows left after DELETE FROM users: %v", got)
	}
}
