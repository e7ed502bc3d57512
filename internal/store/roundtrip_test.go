package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/models"
)

func ptr[T any](v T) *T { return &v }

// insertUser creates a user and returns its id.
func insertUser(t *testing.T, db *bun.DB) uuid.UUID {
	t.Helper()
	u := &models.User{Email: ptr(uuid.NewString() + "@example.com")}
	if _, err := db.NewInsert().Model(u).Returning("*").Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestRoundTripReadsMatchBun: the gallery's and the set detail's reads scan
// rows with pgx by column position, not through Bun's model. Every column
// must land in its own field, set or NULL, exactly as Bun reads it; a
// column added to the model but not to the positional list fails here.
func TestRoundTripReadsMatchBun(t *testing.T) {
	t.Parallel()
	// With prepared statements and without (DB_PREPARED_STATEMENTS=false);
	// the prepared ones on a direct connection, as a pooler that cannot
	// keep them (testdb.NoPrepare) would see the server configured without.
	for _, opts := range []store.Options{{}, {NoPrepare: true}} {
		t.Run(fmt.Sprintf("NoPrepare=%v", opts.NoPrepare), func(t *testing.T) {
			t.Parallel()
			testRoundTripReadsMatchBun(t, opts)
		})
	}
}

func testRoundTripReadsMatchBun(t *testing.T, opts store.Options) {
	url := testdb.URL(t)
	if !opts.NoPrepare {
		url = testdb.Direct(url)
	}
	db := testdb.Open(t, url)
	s := store.New(db, opts)
	ctx := context.Background()
	user := insertUser(t, db)
	wish := &models.WishlistItem{UserID: user, Title: "Falcon", Priority: 1}
	if _, err := db.NewInsert().Model(wish).Returning("*").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	full := &models.Set{
		UserID: user, Title: "Millennium Falcon \"UCS\" ünïcode", SetNumber: ptr("75192-1"),
		Store: ptr("LEGO Store"), SourceURL: ptr("https://example.com/75192"),
		PieceCount: ptr(int32(7541)), ReleaseDate: ptr(time.Date(2017, 10, 1, 0, 0, 0, 0, time.UTC)),
		Theme: ptr("Star Wars"), Tags: []string{"ucs", "has space", `quote"d`, "comma,ed", "{brace}"},
		Notes: ptr("line one\nline two"), IsBuilt: true, Quantity: 2,
		PurchasePrice: ptr(decimal.RequireFromString("799.99")), Tax: ptr(decimal.RequireFromString("0.01")),
		Shipping:       ptr(decimal.RequireFromString("12345678.90")),
		PurchaseDate:   ptr(time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)), // before PostgreSQL's epoch
		WishlistItemID: &wish.ID,
	}
	bare := &models.Set{UserID: user, Title: "bare", Tags: []string{}, Quantity: 1}
	for _, set := range []*models.Set{full, bare} {
		if _, err := db.NewInsert().Model(set).Returning("*").Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	images := []*models.SetImage{
		{SetID: full.ID, ImageURL: "https://img.example/b.jpg", ThumbnailURL: ptr("https://img.example/b_t.jpg"), Position: 1},
		{SetID: full.ID, ImageURL: "https://img.example/a.jpg", Position: 0},
	}
	if _, err := db.NewInsert().Model(&images).Returning("*").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	viaBun := func(id uuid.UUID) *models.Set {
		t.Helper()
		set := new(models.Set)
		if err := db.NewSelect().Model(set).Where("id = ?", id).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		return set
	}
	var wantImages []*models.SetImage
	if err := db.NewSelect().Model(&wantImages).Where("set_id = ?", full.ID).Order("position").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	// Time zones differ only in their *Location pointer; compare instants.
	same := cmp.Options{cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location().String() == b.Location().String() })}

	// Eight times over: from the sixth execution on, PostgreSQL may run a
	// prepared statement with its generic plan.
	for _, want := range slices.Repeat([]*models.Set{viaBun(full.ID), viaBun(bare.ID)}, 8) {
		got, gotImages, err := s.SetWithImages(ctx, user, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, same); diff != "" {
			t.Errorf("SetWithImages(%q) differs from Bun's row (-bun +pgx):\n%s", want.Title, diff)
		}
		wantImgs := []*models.SetImage{}
		if want.ID == full.ID {
			wantImgs = wantImages
		}
		if diff := cmp.Diff(wantImgs, gotImages, same); diff != "" {
			t.Errorf("images of %q (-bun +pgx):\n%s", want.Title, diff)
		}
	}

	page, err := s.ListSets(ctx, &store.SetQuery{UserID: user, Order: store.DefaultOrder, Limit: 10},
		store.PageOptions{Images: true, Count: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*models.Set{viaBun(bare.ID), viaBun(full.ID)}, page.Sets, same); diff != "" {
		t.Errorf("ListSets differs from Bun's rows (-bun +pgx):\n%s", diff)
	}
	if diff := cmp.Diff(map[uuid.UUID][]*models.SetImage{full.ID: wantImages}, page.Images, same); diff != "" {
		t.Errorf("ListSets images (-bun +pgx):\n%s", diff)
	}
	if page.Total == nil || *page.Total != 2 || page.HasMore {
		t.Errorf("ListSets total %v, hasMore %v; want 2, false", page.Total, page.HasMore)
	}
}

// TestRoundTripReadsAreOwnerScoped: another user's set id reads as not
// found, with none of its images, by either read.
func TestRoundTripReadsAreOwnerScoped(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	s := store.New(db, store.Options{NoPrepare: testdb.NoPrepare()})
	ctx := context.Background()
	owner, other := insertUser(t, db), insertUser(t, db)
	set := &models.Set{UserID: owner, Title: "mine", Tags: []string{}, Quantity: 1}
	if _, err := db.NewInsert().Model(set).Returning("*").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	img := &models.SetImage{SetID: set.ID, ImageURL: "https://img.example/x.jpg"}
	if _, err := db.NewInsert().Model(img).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	got, images, err := s.SetWithImages(ctx, other, set.ID)
	if models.ErrorCode(err) != models.CodeNotFound || got != nil || len(images) != 0 {
		t.Errorf("other user's SetWithImages = %v, %d images, %v; want NotFound and nothing", got, len(images), err)
	}
	page, err := s.ListSets(ctx, &store.SetQuery{UserID: other, Order: store.DefaultOrder, Limit: 10},
		store.PageOptions{Images: true, Count: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Sets) != 0 || len(page.Images) != 0 || *page.Total != 0 {
		t.Errorf("other user's page: %d sets, %d image lists, total %d; want none", len(page.Sets), len(page.Images), *page.Total)
	}
}

// TestRoundTripError: a failing statement fails the whole read with the
// database's error, and the pool stays usable.
func TestRoundTripError(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	s := store.New(db, store.Options{NoPrepare: testdb.NoPrepare()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ListSets(ctx, &store.SetQuery{UserID: uuid.New(), Order: store.DefaultOrder, Limit: 1},
		store.PageOptions{Count: true}); err == nil {
		t.Fatal("ListSets with a cancelled context succeeded")
	}
	page, err := s.ListSets(context.Background(), &store.SetQuery{UserID: uuid.New(), Order: store.DefaultOrder, Limit: 1},
		store.PageOptions{Count: true})
	if err != nil || *page.Total != 0 {
		t.Fatalf("after a failed read: %v, %v", page, err)
	}
}

// TestCountByThemeAlone: totalCount of a filter on one theme alone comes
// from user_theme_totals and agrees with counting the sets; any other
// filter counts the sets themselves.
func TestCountByThemeAlone(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	s := store.New(db, store.Options{NoPrepare: testdb.NoPrepare()})
	ctx := context.Background()
	user, other := insertUser(t, db), insertUser(t, db)
	var sets []*models.Set
	for i := range 30 {
		theme := []*string{ptr("City"), ptr("Technic"), nil}[i%3]
		sets = append(sets, &models.Set{UserID: user, Title: "s", Theme: theme, Tags: []string{}, Quantity: 1, IsBuilt: i%2 == 0})
	}
	sets = append(sets, &models.Set{UserID: other, Title: "theirs", Theme: ptr("City"), Tags: []string{}, Quantity: 1})
	if _, err := db.NewInsert().Model(&sets).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// Move and delete a few, so the totals have followed writes.
	if _, err := db.NewRaw(`UPDATE sets SET theme = 'Technic' WHERE id IN (?, ?)`, sets[0].ID, sets[2].ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewRaw(`DELETE FROM sets WHERE id = ?`, sets[3].ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(f store.SetFilter) int32 {
		t.Helper()
		page, err := s.ListSets(ctx, &store.SetQuery{UserID: user, Filter: f, Order: store.DefaultOrder, Limit: 1},
			store.PageOptions{Count: true})
		if err != nil {
			t.Fatal(err)
		}
		return *page.Total
	}
	want := func(where string, args ...any) int32 {
		t.Helper()
		var n int32
		if err := db.NewRaw(`SELECT count(*) FROM sets WHERE user_id = ? AND `+where, append([]any{user}, args...)...).Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		f     store.SetFilter
		where string
		args  []any
	}{
		{store.SetFilter{Theme: ptr("City")}, "theme = ?", []any{"City"}},
		{store.SetFilter{Theme: ptr("Technic")}, "theme = ?", []any{"Technic"}},
		{store.SetFilter{Theme: ptr("Ninjago")}, "theme = ?", []any{"Ninjago"}},
		{store.SetFilter{Theme: ptr("City"), Search: ptr("")}, "theme = ?", []any{"City"}},
		{store.SetFilter{Theme: ptr("City"), IsBuilt: ptr(true)}, "theme = ? AND is_built", []any{"City"}},
		{store.SetFilter{}, "true", nil},
	} {
		if got, want := count(c.f), want(c.where, c.args...); got != want {
			t.Errorf("filter %+v: count %d, want %d", c.f, got, want)
		}
	}

	// Proof of which path runs: a doctored totals row shows through for a
	// theme-only filter, and only there.
	if _, err := db.NewRaw(`UPDATE user_theme_totals SET set_count = 999 WHERE user_id = ? AND theme = 'City'`, user).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(store.SetFilter{Theme: ptr("City")}); got != 999 {
		t.Errorf("theme-only count %d, want it read from user_theme_totals (999)", got)
	}
	if got, want := count(store.SetFilter{Theme: ptr("City"), IsBuilt: ptr(false)}), want("theme = 'City' AND NOT is_built"); got != want {
		t.Errorf("theme+isBuilt count %d, want %d counted from sets", got, want)
	}
}

// TestPreparedStatementsSurviveMigrations: a migration that changes the
// type of a column a prepared read returns fails that read once (PostgreSQL
// refuses the cached plan), and the next read on the same connection
// prepares it afresh and succeeds. On the server directly: only there are
// prepared statements used (testdb.NoPrepare), and only there is "the same
// connection" the same session.
func TestPreparedStatementsSurviveMigrations(t *testing.T) {
	t.Parallel()
	url := testdb.Direct(testdb.URL(t))
	db := testdb.OpenConfig(t, url, postgres.PoolConfig{MaxConns: 1}) // one connection: the same one each time
	s := store.New(db, store.Options{})
	ctx := context.Background()
	user := insertUser(t, db)
	set := &models.Set{UserID: user, Title: "Falcon", Tags: []string{}, Quantity: 1}
	if _, err := db.NewInsert().Model(set).Returning("*").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetWithImages(ctx, user, set.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE sets ALTER COLUMN title TYPE varchar(500)`); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.SetWithImages(ctx, user, set.ID)
	t.Logf("first read after the migration: %v", err)
	got, _, err := s.SetWithImages(ctx, user, set.ID)
	if err != nil || got.Title != "Falcon" {
		t.Fatalf("second read after the migration: %v, %v; want the set", got, err)
	}
}
