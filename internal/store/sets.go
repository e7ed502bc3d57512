package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/models"
)

// PageOptions says what a page is read with besides its sets; everything
// asked for comes back in the same round trip.
type PageOptions struct {
	// Images asks for the images of the page's sets.
	Images bool
	// Count asks for the number of the user's sets matching the filter.
	Count bool
}

// ListSets returns one page of the user's sets and, as opts asks, their
// images and the filter's total: up to three statements sent together.
func (s *Store) ListSets(ctx context.Context, q *SetQuery, opts PageOptions) (*SetPage, error) {
	var rows []*models.Set
	// One row more than asked tells whether there is a next page.
	stmts := []statement{{sql: s.pageQuery(q, setColumns, q.Limit+1).String(), scan: scanSets(&rows, q.Limit+1)}}
	page := &SetPage{}
	if opts.Images {
		// The page's ids are read again inside the images statement, so it
		// need not wait for the page: an index-only range read of q.Limit
		// entries that returns exactly the page's sets (and only the user's).
		page.Images = make(map[uuid.UUID][]*models.SetImage, q.Limit)
		images := s.imagesOf("ARRAY(?)", s.pageQuery(q, "s.id", q.Limit))
		// Most sets have a photo or a few: a chunk of one image per set,
		// then one of two, covers most pages.
		stmts = append(stmts, statement{sql: images.String(), scan: scanImages(page.Images, q.Limit)})
	}
	if opts.Count {
		page.Total = new(int32)
		stmts = append(stmts, s.countStatement(q.UserID, &q.Filter, page.Total))
	}
	if err := s.roundTripFor(ctx, q.UserID, stmts...); err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	page.Sets = rows
	if len(rows) > q.Limit {
		page.Sets, page.HasMore = rows[:q.Limit], true
	}
	if q.Backward {
		slices.Reverse(page.Sets)
	}
	return page, nil
}

// pageQuery selects columns of the first limit sets of q's page, in the
// order of travel (backward pages come last first).
func (s *Store) pageQuery(q *SetQuery, columns string, limit int) *bun.SelectQuery {
	sel := s.matching(q.UserID, &q.Filter).ColumnExpr(columns)
	if q.After != nil {
		sel = afterCursor(sel, keys(q.Order, false), q.After)
	}
	if q.Before != nil {
		sel = afterCursor(sel, keys(q.Order, true), q.Before)
	}
	return orderBy(sel, keys(q.Order, q.Backward)).Limit(int64(limit))
}

// matching starts a query over the user's sets that match f, as "s".
func (s *Store) matching(user uuid.UUID, f *SetFilter) *bun.SelectQuery {
	return applyFilter(s.db.NewSelect().TableExpr("sets AS s"), user, f)
}

// countStatement counts the user's sets that match f into n. A filter on
// one theme and nothing else (the gallery browsing a theme) reads the
// theme's row of user_theme_totals, which triggers keep exact in the same
// transactions that change sets, instead of counting the theme's sets one
// by one.
func (s *Store) countStatement(user uuid.UUID, f *SetFilter, n *int32) statement {
	if theme, ok := f.onlyTheme(); ok {
		return statement{name: "store.theme_count", sql: "SELECT coalesce((SELECT t.set_count " +
			"FROM user_theme_totals AS t WHERE t.user_id = $1 AND t.theme = $2), 0)",
			args: []string{user.String(), theme}, scan: scanCount(n)}
	}
	return statement{sql: s.matching(user, f).ColumnExpr("count(*)").String(), scan: scanCount(n)}
}

// AnyBeyond reports whether a set matching q's filter lies at or beyond c:
// after it in q's order, or before it when backward is true. It answers the
// pageInfo flag on the side of a page that a cursor bounds. The cursor's own
// set counts: a page fetched after set X has X before it, so "first: 7,
// after: X" must say hasPreviousPage even when X is the very first set.
func (s *Store) AnyBeyond(ctx context.Context, q *SetQuery, c *Cursor, backward bool) (bool, error) {
	sel := atOrBeyond(s.matching(q.UserID, &q.Filter), keys(q.Order, backward), c)
	var ok bool
	err := s.readFor(ctx, q.UserID, func(ctx context.Context, db bun.IDB) (err error) {
		ok, err = sel.Conn(db).Exists(ctx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("look beyond cursor: %w", err)
	}
	return ok, nil
}

// Set returns the user's set with id; NotFound when it is missing or not
// theirs.
func (s *Store) Set(ctx context.Context, user, id uuid.UUID) (*models.Set, error) {
	set, _, err := s.setWith(ctx, user, id, false)
	return set, err
}

// SetWithImages returns the user's set with id and its images in display
// order, in one round trip; NotFound when the set is missing or not theirs.
func (s *Store) SetWithImages(ctx context.Context, user, id uuid.UUID) (*models.Set, []*models.SetImage, error) {
	return s.setWith(ctx, user, id, true)
}

// photosPerSet is about how many photos a set has (collections hold 0–6).
const photosPerSet = 8

func (s *Store) setWith(ctx context.Context, user, id uuid.UUID, withImages bool) (*models.Set, []*models.SetImage, error) {
	var sets []*models.Set
	stmts := []statement{{name: "store.set", args: []string{id.String(), user.String()},
		sql:  "SELECT " + setColumns + " FROM sets AS s WHERE s.id = $1 AND s.user_id = $2",
		scan: scanSets(&sets, 1)}}
	images := map[uuid.UUID][]*models.SetImage{}
	if withImages {
		// Not scoped to the owner, which would cost a join (a third of
		// the set detail's database time): the images are returned only
		// when the set statement, which is scoped, found the set, and a
		// set never changes owner.
		stmts = append(stmts, statement{name: "store.set_images", args: []string{id.String()},
			sql:  "SELECT " + imageColumns + " FROM set_images AS i WHERE i.set_id = $1 ORDER BY i.position, i.id",
			scan: scanImages(images, photosPerSet)})
	}
	if err := s.roundTripFor(ctx, user, stmts...); err != nil {
		return nil, nil, fmt.Errorf("load set %s: %w", id, err)
	}
	if len(sets) == 0 {
		return nil, nil, models.NotFound("set")
	}
	if images[id] == nil {
		images[id] = []*models.SetImage{}
	}
	return sets[0], images[id], nil
}

// SameSetNumber returns the user's sets whose set number has setNumber's
// canonical key (SPEC §7), other than except, newest first (at most 100).
func (s *Store) SameSetNumber(ctx context.Context, user uuid.UUID, setNumber string, except uuid.UUID) ([]*models.Set, error) {
	var sets []*models.Set
	err := s.readFor(ctx, user, func(ctx context.Context, db bun.IDB) error {
		return db.NewSelect().Model(&sets).
			Where("user_id = ? AND canonical_set_number = canonical_set_number(?) AND id <> ?", user, setNumber, except).
			OrderExpr("created_at DESC, id DESC").Limit(100).Scan(ctx)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("find sets numbered %q: %w", setNumber, err)
	}
	return sets, nil
}

// CreateSet inserts set for its user with its images in one transaction,
// filling in their ids, defaults and timestamps.
// A wishlistItemId that is not one of the user's items is NOT_FOUND on
// input.wishlistItemId: the database's foreign key decides.
func (s *Store) CreateSet(ctx context.Context, set *models.Set, images []*models.SetImage) error {
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return insertSet(ctx, tx, set, images)
	})
}

// insertSet inserts set and its images in tx.
func insertSet(ctx context.Context, tx bun.Tx, set *models.Set, images []*models.SetImage) error {
	if _, err := tx.NewInsert().Model(set).Returning("*").Exec(ctx); err != nil {
		return wishlistLinkError(fmt.Errorf("insert set: %w", err), "input.wishlistItemId")
	}
	if len(images) == 0 {
		return nil
	}
	for _, img := range images {
		img.SetID = set.ID
	}
	if _, err := tx.NewInsert().Model(&images).Returning("*").Exec(ctx); err != nil {
		return fmt.Errorf("insert %d images: %w", len(images), err)
	}
	return nil
}

// SetPatch lists the columns to change and holds their new values in Set.
type SetPatch struct {
	Set     models.Set
	Columns []string
}

// UpdateSet applies p to the user's set id and returns the new row. An
// empty patch changes nothing (updated_at included).
func (s *Store) UpdateSet(ctx context.Context, user, id uuid.UUID, p *SetPatch) (*models.Set, error) {
	if len(p.Columns) == 0 {
		return s.Set(ctx, user, id)
	}
	set := &p.Set
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context) (err error) {
		res, err = s.db.NewUpdate().Model(set).Column(p.Columns...).
			Where("id = ? AND user_id = ?", id, user).Returning("*").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, wishlistLinkError(fmt.Errorf("update set %s: %w", id, err), "input.wishlistItemId")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, models.NotFound("set")
	}
	return set, nil
}

// DeleteSet deletes the user's set id and, by cascade, its images.
func (s *Store) DeleteSet(ctx context.Context, user, id uuid.UUID) error {
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context) (err error) {
		res, err = s.db.NewDelete().TableExpr("sets").Where("id = ? AND user_id = ?", id, user).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete set %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.NotFound("set")
	}
	return nil
}

// ThemeSummary is a theme's share of a collection.
type ThemeSummary struct {
	Theme      string
	SetCount   int32
	PieceCount int32
}

// TagSummary is how many sets carry a tag.
type TagSummary struct {
	Tag      string
	SetCount int32
}

// Stats are totals over a collection.
type Stats struct {
	SetCount      int32
	TotalQuantity int32
	BuiltCount    int32
	TotalPieces   int32
	TotalSpent    decimal.Decimal
	ByTheme       []*ThemeSummary
}

// clamp32 saturates a total at the GraphQL Int range: a sum of
// pieceCount × quantity can exceed it, and a wrong small number would be
// worse than the ceiling (the schema documents it).
func clamp32(n int64) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32))
}

// Themes returns the user's themes (sets without one left out), by set
// count then name. It reads user_theme_totals, one row a theme that
// triggers on sets keep exact (migration 20261125000500), so it costs the
// same for ten sets as for ten thousand.
func (s *Store) Themes(ctx context.Context, user uuid.UUID) ([]*ThemeSummary, error) {
	out := []*ThemeSummary{}
	err := s.roundTripFor(ctx, user, statement{name: "store.themes", args: []string{user.String()},
		sql: "SELECT t.theme, t.set_count, t.piece_total FROM user_theme_totals AS t " +
			"WHERE t.user_id = $1 ORDER BY t.set_count DESC, t.theme",
		scan: func(rows pgx.Rows) error {
			out = out[:0] // a retried round trip scans again
			for rows.Next() {
				var (
					t             ThemeSummary
					count, pieces int64
				)
				if err := rows.Scan(&t.Theme, &count, &pieces); err != nil {
					return fmt.Errorf("scan theme: %w", err)
				}
				t.SetCount, t.PieceCount = clamp32(count), clamp32(pieces)
				out = append(out, &t)
			}
			return rows.Err()
		}})
	if err != nil {
		return nil, fmt.Errorf("list themes: %w", err)
	}
	return out, nil
}

// Stats totals the user's sets matching f, overall and per theme, in one
// statement (GROUPING SETS).
func (s *Store) Stats(ctx context.Context, user uuid.UUID, f *SetFilter) (*Stats, error) {
	var rows []struct {
		Grouped  bool
		Theme    *string
		Sets     int64
		Quantity int64
		Built    int64
		Pieces   int64
		Spent    decimal.Decimal
	}
	sel := s.matching(user, f).
		ColumnExpr("GROUPING(s.theme) = 0 AS grouped, s.theme").
		ColumnExpr("count(*) AS sets, coalesce(sum(s.quantity), 0) AS quantity").
		ColumnExpr("count(*) FILTER (WHERE s.is_built) AS built").
		ColumnExpr("coalesce(sum(s.piece_count::bigint * s.quantity), 0) AS pieces").
		ColumnExpr("coalesce(sum(coalesce(s.purchase_price, 0) + coalesce(s.tax, 0) + coalesce(s.shipping, 0)), 0) AS spent")
	sel = sel.GroupExpr("GROUPING SETS ((), (s.theme))").
		OrderExpr("grouped, sets DESC, s.theme")
	err := s.readFor(ctx, user, func(ctx context.Context, db bun.IDB) error { return sel.Conn(db).Scan(ctx, &rows) })
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("collection stats: %w", err)
	}
	st := &Stats{TotalSpent: decimal.Zero, ByTheme: []*ThemeSummary{}}
	for _, r := range rows {
		switch {
		case !r.Grouped:
			st.SetCount, st.TotalQuantity = clamp32(r.Sets), clamp32(r.Quantity)
			st.BuiltCount, st.TotalPieces, st.TotalSpent = clamp32(r.Built), clamp32(r.Pieces), r.Spent
		case r.Theme != nil:
			st.ByTheme = append(st.ByTheme, &ThemeSummary{Theme: *r.Theme, SetCount: clamp32(r.Sets), PieceCount: clamp32(r.Pieces)})
		}
	}
	return st, nil
}

// Tags returns the user's tags by set count then tag. Tags differing only
// in case count as one, shown in their alphabetically first spelling.
func (s *Store) Tags(ctx context.Context, user uuid.UUID) ([]*TagSummary, error) {
	var rows []struct {
		Tag  string
		Sets int64
	}
	err := s.readFor(ctx, user, func(ctx context.Context, db bun.IDB) error {
		return db.NewSelect().TableExpr("sets AS s, unnest(s.tags) AS t").
			ColumnExpr("min(t) AS tag, count(DISTINCT s.id) AS sets").
			Where("s.user_id = ?", user).
			GroupExpr("lower(t)").OrderExpr("sets DESC, tag").
			Scan(ctx, &rows)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	out := make([]*TagSummary, len(rows))
	for i, r := range rows {
		out[i] = &TagSummary{Tag: r.Tag, SetCount: clamp32(r.Sets)}
	}
	return out, nil
}
