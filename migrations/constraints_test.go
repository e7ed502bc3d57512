package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/testdb"
)

// mustInsert runs an INSERT ... RETURNING id and returns the id.
func mustInsert(tb testing.TB, db bun.IDB, query string, args ...any) string {
	tb.Helper()
	var id string
	if err := db.NewRaw(query+" RETURNING id", args...).Scan(context.Background(), &id); err != nil {
		tb.Fatalf("insert %q: %v", query, err)
	}
	return id
}

// collection is a user with sets, each with images, as written by fixture.
type collection struct {
	user   string
	sets   []string
	images map[string][]string // set id → image ids
}

// fixture inserts a user (email) with n sets of two images each.
func fixture(tb testing.TB, db bun.IDB, email string, n int) collection {
	tb.Helper()
	c := collection{images: map[string][]string{}}
	c.user = mustInsert(tb, db, "INSERT INTO users (email) VALUES (?)", email)
	for i := range n {
		set := mustInsert(tb, db, "INSERT INTO sets (user_id, title) VALUES (?, ?)", c.user, fmt.Sprintf("set %d", i))
		c.sets = append(c.sets, set)
		for p := range 2 {
			img := mustInsert(tb, db, "INSERT INTO set_images (set_id, image_url, position) VALUES (?, ?, ?)",
				set, fmt.Sprintf("https://img.example/%s/%d.jpg", set, p), p)
			c.images[set] = append(c.images[set], img)
		}
	}
	return c
}

// count returns how many rows of table have column = value.
func count(tb testing.TB, db bun.IDB, table, column, value string) int {
	tb.Helper()
	var n int
	err := db.NewRaw("SELECT count(*) FROM ? WHERE ? = ?", bun.Ident(table), bun.Ident(column), value).
		Scan(context.Background(), &n)
	if err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TestDeletesCascade checks the two ON DELETE CASCADE foreign keys: deleting
// a set takes its images and nothing else; deleting a user takes their sets
// and those sets' images, and leaves other users' rows alone.
func TestDeletesCascade(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	alice := fixture(t, db, "alice@example.com", 2)
	bob := fixture(t, db, "bob@example.com", 1)

	t.Run("set takes its images", func(t *testing.T) {
		gone, kept := alice.sets[0], alice.sets[1]
		mustExec(t, db, "DELETE FROM sets WHERE id = ?", gone)
		if got := count(t, db, "set_images", "set_id", gone); got != 0 {
			t.Errorf("images of the deleted set: got %d, want 0", got)
		}
		if got := count(t, db, "set_images", "set_id", kept); got != 2 {
			t.Errorf("images of the user's other set: got %d, want 2", got)
		}
	})
	t.Run("user takes sets and images", func(t *testing.T) {
		mustExec(t, db, "DELETE FROM users WHERE id = ?", alice.user)
		if got := count(t, db, "sets", "user_id", alice.user); got != 0 {
			t.Errorf("sets of the deleted user: got %d, want 0", got)
		}
		if got := count(t, db, "set_images", "set_id", alice.sets[1]); got != 0 {
			t.Errorf("images of the deleted user's set: got %d, want 0", got)
		}
		if got := count(t, db, "sets", "user_id", bob.user); got != 1 {
			t.Errorf("sets of another user: got %d, want 1", got)
		}
		if got := count(t, db, "set_images", "set_id", bob.sets[0]); got != 2 {
			t.Errorf("images of another user's set: got %d, want 2", got)
		}
	})
}

// TestChecksRefuseInvalidValues writes each out-of-range value the CHECK
// constraints exist for, and the boundary value just inside, so that a
// dropped or loosened constraint (>= 0 where >= 1 is meant) fails here.
func TestChecksRefuseInvalidValues(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	c := fixture(t, db, "checks@example.com", 1)
	set, image := c.sets[0], c.images[c.sets[0]][0]

	tests := []struct {
		table, column, id string
		bad, good         any
		constraint        string
	}{
		{"sets", "quantity", set, 0, 1, "sets_quantity_check"},
		{"sets", "quantity", set, -1, 1, "sets_quantity_check"},
		{"sets", "piece_count", set, -1, 0, "sets_piece_count_check"},
		{"sets", "purchase_price", set, "-0.01", "0.00", "sets_purchase_price_check"},
		{"sets", "tax", set, "-0.01", "0.00", "sets_tax_check"},
		{"sets", "shipping", set, "-0.01", "0.00", "sets_shipping_check"},
		{"set_images", "position", image, -1, 0, "set_images_position_check"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.column, tt.bad), func(t *testing.T) {
			const update = "UPDATE ? SET ? = ? WHERE id = ?"
			_, err := db.ExecContext(t.Context(), update, bun.Ident(tt.table), bun.Ident(tt.column), tt.bad, tt.id)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23514" || pgErr.ConstraintName != tt.constraint {
				t.Errorf("%s = %v: got error %v, want check_violation (23514) of %s", tt.column, tt.bad, err, tt.constraint)
			}
			if _, err := db.ExecContext(t.Context(), update, bun.Ident(tt.table), bun.Ident(tt.column), tt.good, tt.id); err != nil {
				t.Errorf("%s = %v (the smallest valid value): %v", tt.column, tt.good, err)
			}
		})
	}
}

// TestUpdatedAtMoves checks the set_updated_at trigger: any UPDATE of a set
// or a user moves updated_at to now, even one that tries to set it itself,
// while created_at keeps its value.
func TestUpdatedAtMoves(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	// Rows start with both timestamps in the past, so that "moved" is
	// visible even when the update runs in the millisecond of the insert.
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

	tests := []struct {
		name, table, update string
	}{
		{"set", "sets", "UPDATE sets SET title = 'renamed' WHERE id = ?"},
		{"user", "users", "UPDATE users SET display_name = 'Renamed' WHERE id = ?"},
		// A writer that sends its own (stale) updated_at is overruled.
		{"set with a stale updated_at", "sets", "UPDATE sets SET notes = 'n', updated_at = '2001-01-01' WHERE id = ?"},
		{"user with a stale updated_at", "users", "UPDATE users SET email = NULL, updated_at = '2001-01-01' WHERE id = ?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := map[string]string{}
			ids["users"] = mustInsert(t, db, "INSERT INTO users (created_at, updated_at) VALUES (?, ?)", past, past)
			ids["sets"] = mustInsert(t, db, "INSERT INTO sets (user_id, title, created_at, updated_at) VALUES (?, 't', ?, ?)",
				ids["users"], past, past)
			id := ids[tt.table]

			// A minute of slack either side: now() is the transaction's
			// start, and an hour off means a session not in UTC.
			before := time.Now().UTC().Add(-time.Minute)
			mustExec(t, db, tt.update, id)
			after := time.Now().UTC().Add(time.Minute)

			var got struct {
				CreatedAt time.Time `bun:"created_at"`
				UpdatedAt time.Time `bun:"updated_at"`
			}
			err := db.NewRaw("SELECT created_at, updated_at FROM ? WHERE id = ?", bun.Ident(tt.table), id).
				Scan(t.Context(), &got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(past, got.CreatedAt); diff != "" {
				t.Errorf("created_at moved (-want +got):\n%s", diff)
			}
			if got.UpdatedAt.Before(before) || got.UpdatedAt.After(after) {
				t.Errorf("updated_at = %v after the update, want now (between %v and %v)", got.UpdatedAt, before, after)
			}
		})
	}
}
