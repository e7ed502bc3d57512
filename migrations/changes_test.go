package migrations_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/testdb"
)

// logOf is a user's change log as "position kind entity" lines, the
// entity named by names (id → name) where it has one.
func logOf(tb testing.TB, db bun.IDB, user string, names map[string]string) []string {
	tb.Helper()
	var rows []struct {
		Position int64
		Kind     string
		EntityID string
	}
	if err := db.NewRaw("SELECT position, kind, entity_id FROM changes WHERE user_id = ? ORDER BY position", user).
		Scan(context.Background(), &rows); err != nil {
		tb.Fatalf("read the change log: %v", err)
	}
	out := []string{}
	for _, r := range rows {
		name := names[r.EntityID]
		if name == "" {
			name = r.EntityID
		}
		out = append(out, fmt.Sprintf("%d %s %s", r.Position, r.Kind, name))
	}
	return out
}

// head is the user's change_heads position (-1: no row).
func head(tb testing.TB, db bun.IDB, user string) int64 {
	tb.Helper()
	var pos []int64
	if err := db.NewRaw("SELECT position FROM change_heads WHERE user_id = ?", user).Scan(context.Background(), &pos); err != nil {
		tb.Fatalf("read the head: %v", err)
	}
	if len(pos) == 0 {
		return -1
	}
	return pos[0]
}

// The change log (SPEC §11) as every writer leaves it: one entry per
// changed set or wishlist item per transaction, images counting as their
// set, deletes as *_DELETED, dense positions, nothing for a rolled-back
// transaction, one RESYNC for a statement of more than 1,000 rows and for
// a TRUNCATE.
func TestChangeLogFollowsEveryWriter(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	user := mustInsert(t, db, "INSERT INTO users (email) VALUES ('log@example.com')")
	other := mustInsert(t, db, "INSERT INTO users (email) VALUES ('other@example.com')")
	names := map[string]string{user: "user"}

	// A set and its images in one transaction, as createSet writes them.
	var falcon string
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		falcon = mustInsert(t, tx, "INSERT INTO sets (user_id, title) VALUES (?, 'Falcon')", user)
		mustExec(t, tx, "INSERT INTO set_images (set_id, image_url, position) VALUES (?, 'https://i/1', 0), (?, 'https://i/2', 1)", falcon, falcon)
		mustExec(t, tx, "UPDATE sets SET notes = 'n' WHERE id = ?", falcon)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	names[falcon] = "falcon"
	// Each statement of its own: an image changed, then one deleted.
	mustExec(t, db, "UPDATE set_images SET position = position + 10 WHERE set_id = ?", falcon)
	mustExec(t, db, "DELETE FROM set_images WHERE set_id = ? AND image_url = 'https://i/2'", falcon)
	// Rolled back: no entry, no position taken.
	_ = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		mustExec(t, tx, "UPDATE sets SET title = 'x' WHERE id = ?", falcon)
		return context.Canceled
	})
	wish := mustInsert(t, db, "INSERT INTO wishlist_items (user_id, title) VALUES (?, 'Rivendell')", user)
	names[wish] = "wish"
	mustExec(t, db, "DELETE FROM wishlist_items WHERE id = ?", wish)
	// A set deleted in SQL: its images cascade, and only SET_DELETED shows.
	mustExec(t, db, "DELETE FROM sets WHERE id = ?", falcon)
	// Another user's writes leave this user's log alone.
	mustInsert(t, db, "INSERT INTO sets (user_id, title) VALUES (?, 'theirs')", other)

	want := []string{
		"1 SET_CHANGED falcon",
		"2 SET_CHANGED falcon",
		"3 SET_CHANGED falcon",
		"4 WISHLIST_ITEM_CHANGED wish",
		"5 WISHLIST_ITEM_DELETED wish",
		"6 SET_DELETED falcon",
	}
	if diff := cmp.Diff(want, logOf(t, db, user, names)); diff != "" {
		t.Errorf("the log (-want +got):\n%s", diff)
	}
	if h := head(t, db, user); h != 6 {
		t.Errorf("head %d, want 6", h)
	}

	// 1,000 rows in one statement are 1,000 entries; 1,001 are one RESYNC,
	// after which the transaction logs nothing more for the user.
	mustExec(t, db, "INSERT INTO sets (user_id, title) SELECT ?, 'bulk' FROM generate_series(1, 1000)", user)
	if h := head(t, db, user); h != 1006 {
		t.Fatalf("after 1,000 rows: head %d, want 1006", h)
	}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		mustExec(t, tx, "INSERT INTO sets (user_id, title) SELECT ?, 'import' FROM generate_series(1, 1001)", user)
		mustExec(t, tx, "UPDATE sets SET notes = 'after the import' WHERE user_id = ? AND title = 'bulk'", user)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "TRUNCATE sets CASCADE")
	got := logOf(t, db, user, names)
	if diff := cmp.Diff([]string{"1007 RESYNC user", "1008 RESYNC user"}, got[len(got)-2:]); diff != "" {
		t.Errorf("the import and the truncate (-want +got):\n%s", diff)
	}
	if h := head(t, db, user); h != 1008 || len(got) != 1008 {
		t.Errorf("head %d with %d entries, want 1008 of each (positions dense)", h, len(got))
	}
	if got := logOf(t, db, other, nil); len(got) != 2 || got[1][2:] != "RESYNC "+other {
		t.Errorf("the other user's log: %v, want their set then the truncate's RESYNC", got)
	}

	// A user's own delete takes their log with it, and logs nothing.
	mustExec(t, db, "DELETE FROM users WHERE id = ?", user)
	if n := count(t, db, "changes", "user_id", user); n != 0 || head(t, db, user) != -1 {
		t.Errorf("after deleting the user: %d entries left, head %d", n, head(t, db, user))
	}
}
