package store

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/models"
)

// TestColumnListsCoverModels: the positional scans read every column of
// their model, in the model's order, so a column added to a model cannot be
// silently left out of the gallery's reads.
func TestColumnListsCoverModels(t *testing.T) {
	db := bun.NewDB(nil, pgdialect.New())
	for _, c := range []struct {
		model   any
		columns string
		alias   string
	}{
		{(*models.Set)(nil), setColumns, "s."},
		{(*models.SetImage)(nil), imageColumns, "i."},
	} {
		table := db.Table(reflect.TypeOf(c.model))
		var want []string
		for _, f := range table.Fields {
			want = append(want, c.alias+f.Name)
		}
		if diff := cmp.Diff(want, strings.Split(c.columns, ", ")); diff != "" {
			t.Errorf("columns read for %s (-model +list):\n%s", table.Name, diff)
		}
	}
}

// TestScanImagesGroupsAnyOrder: scanImages shares one backing slice among
// the sets of rows ordered by set; rows in any other order must still land
// in their own set, in display order (position, then id), and appending to
// one set's images must not overwrite another's.
func TestScanImagesGroupsAnyOrder(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	s := New(db, Options{NoPrepare: testdb.NoPrepare()})
	ctx := context.Background()
	user := uuid.New()
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id) VALUES (?)`, user); err != nil {
		t.Fatal(err)
	}
	var sets []uuid.UUID
	for i := range 3 {
		var id uuid.UUID
		if err := db.QueryRowContext(ctx, `INSERT INTO sets (user_id, title) VALUES (?, ?) RETURNING id`,
			user, fmt.Sprint("set ", i)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		sets = append(sets, id)
		for p := range 3 {
			if _, err := db.ExecContext(ctx, `INSERT INTO set_images (set_id, image_url, position) VALUES (?, ?, ?)`,
				id, fmt.Sprintf("https://img.example.com/%d/%d.jpg", i, p), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, order := range []string{"i.set_id, i.position", "i.position, i.set_id", "i.image_url DESC", "i.set_id, i.position DESC"} {
		got := map[uuid.UUID][]*models.SetImage{}
		sql := `SELECT ` + imageColumns + ` FROM set_images AS i ORDER BY ` + order
		if err := s.roundTrip(ctx, statement{sql: sql, scan: scanImages(got, 1)}); err != nil {
			t.Fatal(err)
		}
		for i, id := range sets {
			var urls []string
			for _, img := range got[id] {
				if img.SetID != id {
					t.Errorf("order %s: image of set %s filed under %s", order, img.SetID, id)
				}
				urls = append(urls, img.ImageURL)
			}
			want := []string{
				fmt.Sprintf("https://img.example.com/%d/0.jpg", i),
				fmt.Sprintf("https://img.example.com/%d/1.jpg", i),
				fmt.Sprintf("https://img.example.com/%d/2.jpg", i),
			}
			if diff := cmp.Diff(want, urls); diff != "" {
				t.Errorf("order %s, set %d (-want +got):\n%s", order, i, diff)
			}
		}
	}

	// Two images at one position (as a concurrent reorder can leave them)
	// come by id, whichever the rows give first.
	var tied [2]uuid.UUID
	for i := range tied {
		if err := db.QueryRowContext(ctx, `INSERT INTO set_images (set_id, image_url, position)
			VALUES (?, 'https://img.example.com/tied', 7) RETURNING id`, sets[0]).Scan(&tied[i]); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(tied[:], func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, order := range []string{"i.id", "i.id DESC"} {
		got := map[uuid.UUID][]*models.SetImage{}
		sql := `SELECT ` + imageColumns + ` FROM set_images AS i WHERE i.position = 7 ORDER BY ` + order
		if err := s.roundTrip(ctx, statement{sql: sql, scan: scanImages(got, 3)}); err != nil {
			t.Fatal(err)
		}
		var ids []uuid.UUID
		for _, img := range got[sets[0]] {
			ids = append(ids, img.ID)
		}
		if diff := cmp.Diff(tied[:], ids); diff != "" {
			t.Errorf("images tied on position, rows by %s (-want +got):\n%s", order, diff)
		}
	}

	// Five sets of one image each: the third set's window of the shared
	// slice ends where the fourth's begins, with room to spare after it, so
	// an append to the third would overwrite the fourth unless windows are
	// capped.
	var single []uuid.UUID
	for i := range 5 {
		var id uuid.UUID
		if err := db.QueryRowContext(ctx, `INSERT INTO sets (user_id, title) VALUES (?, 'single') RETURNING id`,
			user).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO set_images (set_id, image_url) VALUES (?, ?)`,
			id, fmt.Sprint("https://img.example.com/single/", i)); err != nil {
			t.Fatal(err)
		}
		single = append(single, id)
	}
	got := map[uuid.UUID][]*models.SetImage{}
	sql := `SELECT ` + imageColumns + ` FROM set_images AS i JOIN sets AS s ON s.id = i.set_id
		WHERE s.title = 'single' ORDER BY i.set_id`
	if err := s.roundTrip(ctx, statement{sql: sql, scan: scanImages(got, 64)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range single {
		_ = append(got[id], &models.SetImage{ImageURL: "appended"})
	}
	for _, id := range single {
		if imgs := got[id]; len(imgs) != 1 || imgs[0].SetID != id {
			t.Fatalf("after appending to every set, set %s has %d images, the first of set %s",
				id, len(imgs), imgs[0].SetID)
		}
	}
}

// TestMoneyDecodesBinaryNumeric: amounts are read from PostgreSQL's binary
// numeric by hand when they have at most two decimals, and through pgx
// otherwise; both must give the exact value.
func TestMoneyDecodesBinaryNumeric(t *testing.T) {
	m := pgtype.NewMap()
	for _, v := range []string{
		"0", "0.00", "0.01", "0.10", "0.5", "1", "1.00", "9999.99", "10000.00", "10000.01",
		"99999999.99", "12345678.90", "100000000", "-5.25", "-0.01", "1.234", "0.001",
		"123456789012345.67", "12345678901234567.89", "100000000000000000000",
	} {
		var n pgtype.Numeric
		if err := n.Scan(v); err != nil {
			t.Fatal(err)
		}
		src, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		var d decimal.Decimal
		got, err := money(src, &d)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if want := decimal.RequireFromString(v); got == nil || !got.Equal(want) {
			t.Errorf("%s: got %v, want %v", v, got, want)
		}
	}
	if got, err := money(nil, new(decimal.Decimal)); got != nil || err != nil {
		t.Errorf("NULL: got %v, %v; want nil, nil", got, err)
	}
	nan, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, pgtype.Numeric{NaN: true, Valid: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := money(nan, new(decimal.Decimal)); err == nil {
		t.Error("NaN: no error")
	}
}

// A slab sized for its result reads a page in one allocation, and one that
// runs over grows by doubling, not row by row.
func TestSlabAllocatesByChunk(t *testing.T) {
	for _, c := range []struct{ expect, rows, allocs int }{
		{51, 51, 1}, {51, 3, 1}, {50, 135, 2}, {1, 1, 1}, {1, 7, 3}, {0, 1, 1},
	} {
		got := testing.AllocsPerRun(10, func() {
			s := newSlab[[64]byte](c.expect)
			for range c.rows {
				s.next()[0] = 1
			}
		})
		if int(got) != c.allocs {
			t.Errorf("expecting %d, %d rows cost %v allocations, want %d", c.expect, c.rows, got, c.allocs)
		}
	}
}
