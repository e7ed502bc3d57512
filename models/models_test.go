package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/models"
)

// exactDecimal compares decimals by value and by scale, so that "12.30"
// read back as "12.3" (or 12.299999 through a float) is a difference.
var exactDecimal = cmp.Comparer(func(a, b decimal.Decimal) bool {
	return a.Equal(b) && a.StringFixed(2) == b.StringFixed(2) && a.Exponent() == b.Exponent()
})

// ptr returns a pointer to a copy of v, for the models' nullable fields.
func ptr[T any](v T) *T { return &v }

// mustDecimal parses s exactly (never through a float).
func mustDecimal(tb testing.TB, s string) *decimal.Decimal {
	tb.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return &d
}

// mustInsert inserts model through Bun, failing the test on error.
func mustInsert(tb testing.TB, db bun.IDB, model any) {
	tb.Helper()
	if _, err := db.NewInsert().Model(model).Exec(context.Background()); err != nil {
		tb.Fatalf("insert %T: %v", model, err)
	}
}

// TestSetRoundTrip writes a set with every field filled, and its images,
// through the Bun models and reads them back: every value must come back
// exactly, money to the cent, arrays element for element (including the
// awkward ones), timestamps as the same instant in UTC to the microsecond.
func TestSetRoundTrip(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := t.Context()

	// Written in a zone that is not UTC, at microsecond precision (all
	// PostgreSQL keeps): they must come back as the same instant, in UTC.
	kolkata := time.FixedZone("IST", 5*3600+1800)
	at := func(y int, m time.Month, d, h, min, s, us int) time.Time {
		return time.Date(y, m, d, h, min, s, us*1000, kolkata)
	}
	user := &models.User{ID: uuid.New(), Email: ptr("round@example.com"), DisplayName: ptr("Round Trip"),
		CreatedAt: at(2023, 3, 4, 5, 6, 7, 123456), UpdatedAt: at(2023, 3, 4, 5, 6, 7, 654321)}
	mustInsert(t, db, user)
	wish := &models.WishlistItem{ID: uuid.New(), UserID: user.ID, Title: "Falcon", Priority: 1,
		CreatedAt: at(2023, 3, 4, 5, 6, 7, 0), UpdatedAt: at(2023, 3, 4, 5, 6, 7, 0)}
	mustInsert(t, db, wish)

	set := &models.Set{
		ID: uuid.New(), UserID: user.ID, Title: "Millennium Falcon™ – UCS",
		SetNumber: ptr("75192-1"), Store: ptr("LEGO Store"), SourceURL: ptr("https://www.lego.com/product/75192"),
		PieceCount: ptr(int32(7541)), ReleaseDate: ptr(at(2017, 10, 1, 0, 0, 0, 0)), Theme: ptr("Star Wars"),
		// Quotes, commas, braces, spaces, backslashes, the word NULL and
		// the empty string are where array literals break.
		Tags:  []string{"UCS", `say "hi"`, "a,b", "{x}", "two words", `back\slash`, "NULL", "", "ünïcødé"},
		Notes: ptr("line one\nline two"), IsBuilt: true, Quantity: 2,
		// The largest numeric(10,2) and a cent: a float would not keep both.
		PurchasePrice: mustDecimal(t, "99999999.99"), Tax: mustDecimal(t, "0.01"), Shipping: mustDecimal(t, "12.30"),
		PurchaseDate:   ptr(at(2024, 2, 29, 23, 59, 59, 999999)),
		WishlistItemID: &wish.ID,
		CreatedAt:      at(2024, 3, 1, 8, 0, 0, 1), UpdatedAt: at(2024, 3, 2, 9, 30, 0, 500000),
	}
	mustInsert(t, db, set)
	images := []models.SetImage{
		{ID: uuid.New(), SetID: set.ID, ImageURL: "https://img.example/75192/1.jpg",
			ThumbnailURL: ptr("https://img.example/75192/1-thumb.jpg"), Position: 0, CreatedAt: at(2024, 3, 1, 8, 0, 1, 0)},
		{ID: uuid.New(), SetID: set.ID, ImageURL: "https://img.example/75192/2.jpg",
			Position: 1, CreatedAt: at(2024, 3, 1, 8, 0, 2, 0)},
	}
	mustInsert(t, db, &images)

	gotUser := new(models.User)
	gotSet := new(models.Set)
	var gotImages []models.SetImage
	if err := db.NewSelect().Model(gotUser).Where("id = ?", user.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.NewSelect().Model(gotSet).Where("id = ?", set.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.NewSelect().Model(&gotImages).Where("set_id = ?", set.ID).Order("position").Scan(ctx); err != nil {
		t.Fatal(err)
	}

	// cmp compares times with Equal (the instant); the zone is checked
	// separately below.
	if diff := cmp.Diff(user, gotUser); diff != "" {
		t.Errorf("user (-wrote +read):\n%s", diff)
	}
	if diff := cmp.Diff(set, gotSet, exactDecimal); diff != "" {
		t.Errorf("set (-wrote +read):\n%s", diff)
	}
	if diff := cmp.Diff(images, gotImages); diff != "" {
		t.Errorf("images (-wrote +read):\n%s", diff)
	}
	for name, tm := range map[string]time.Time{
		"user.CreatedAt": gotUser.CreatedAt, "set.ReleaseDate": *gotSet.ReleaseDate,
		"set.PurchaseDate": *gotSet.PurchaseDate, "set.CreatedAt": gotSet.CreatedAt,
		"set.UpdatedAt": gotSet.UpdatedAt, "image.CreatedAt": gotImages[0].CreatedAt,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("%s read back in %v, want UTC", name, tm.Location())
		}
	}
	var stored string
	if err := db.NewRaw("SELECT purchase_date::text FROM sets WHERE id = ?", set.ID).Scan(ctx, &stored); err != nil {
		t.Fatal(err)
	}
	if want := "2024-02-29 18:29:59.999999"; stored != want {
		t.Errorf("purchase_date as stored: got %s, want %s (the UTC wall time)", stored, want)
	}
}

// TestSetDefaults inserts a set with only what the API requires and checks
// what the database fills in: no tags (an empty array, never NULL), not
// built, created and updated now, in UTC.
func TestSetDefaults(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := t.Context()
	user := &models.User{}
	mustInsert(t, db, user)

	before := time.Now().UTC().Add(-time.Minute)
	set := &models.Set{UserID: user.ID, Title: "Bare", Quantity: 1}
	mustInsert(t, db, set)
	after := time.Now().UTC().Add(time.Minute)

	got := new(models.Set)
	if err := db.NewSelect().Model(got).Where("id = ?", set.ID).Scan(ctx); err != nil {
		t.Fatalf("read back the set (id %v): %v", set.ID, err)
	}
	if got.Tags == nil || len(got.Tags) != 0 {
		t.Errorf("tags: got %#v, want an empty, non-nil slice", got.Tags)
	}
	if got.IsBuilt || got.PurchasePrice != nil || got.PieceCount != nil {
		t.Errorf("defaults: got is_built=%v purchase_price=%v piece_count=%v, want false, NULL, NULL",
			got.IsBuilt, got.PurchasePrice, got.PieceCount)
	}
	for name, tm := range map[string]time.Time{"created_at": got.CreatedAt, "updated_at": got.UpdatedAt, "user.created_at": user.CreatedAt} {
		if tm.Before(before) || tm.After(after) {
			t.Errorf("%s = %v, want now in UTC (between %v and %v)", name, tm, before, after)
		}
	}
}
