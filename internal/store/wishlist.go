package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/models"
)

// The wishlist's sort keys (SPEC §10).
const (
	WishlistOrderCreatedAt   OrderField = "CREATED_AT"
	WishlistOrderPriority    OrderField = "PRIORITY"
	WishlistOrderTitle       OrderField = "TITLE"
	WishlistOrderTargetPrice OrderField = "TARGET_PRICE"
)

var wishlistColumns = map[OrderField]column[models.WishlistItem]{
	WishlistOrderCreatedAt: {"created_at", true, func(w *models.WishlistItem) any { return w.CreatedAt }, decodeTime},
	WishlistOrderPriority:  {"priority", true, func(w *models.WishlistItem) any { return w.Priority }, decodeInt},
	WishlistOrderTitle:     {"title", true, func(w *models.WishlistItem) any { return w.Title }, decodeString},
	WishlistOrderTargetPrice: {"target_price", false,
		func(w *models.WishlistItem) any { return deref(w.TargetPrice) }, decodeDecimal},
}

// wishlistList names the wishlist's cursors, so that a set cursor is not
// taken for a wishlist position.
const wishlistList = "wishlist:"

// WishlistCursorFor returns the cursor of item in order.
func WishlistCursorFor(order []Order, item *models.WishlistItem) string {
	return cursorFor(wishlistColumns, wishlistList, order, item, item.ID)
}

// ParseWishlistCursor decodes a wishlist cursor made for order.
func ParseWishlistCursor(order []Order, s string) (*Cursor, error) {
	return parseCursor(wishlistColumns, wishlistList, order, s)
}

// WishlistFilter narrows a user's wishlist; nil fields are not applied.
// Strings are expected trimmed by the caller.
type WishlistFilter struct {
	Theme    *string
	Search   *string // case-insensitive substring of title, set number or notes
	Acquired *bool
	Priority *int32
}

// WishlistQuery is a request for one page of a user's wishlist.
type WishlistQuery struct {
	UserID   uuid.UUID
	Filter   WishlistFilter
	Order    []Order // without the id tiebreaker, which is implied
	Limit    int
	Backward bool
	After    *Cursor
	Before   *Cursor
}

// WishlistPage is one page, in the query's order.
type WishlistPage struct {
	Items   []*models.WishlistItem
	HasMore bool   // beyond the page in the direction of travel
	Total   *int32 // nil unless asked for
}

// ownedCountExpr reads, with each item, how many of its owner's sets have
// its canonical set number (SPEC §10 ownedCount); the sets index on
// (user_id, canonical_set_number) answers each from the index.
const ownedCountExpr = "(SELECT count(*) FROM sets AS s WHERE s.user_id = w.user_id " +
	"AND s.canonical_set_number = w.canonical_set_number)::int AS owned_count"

// wishlistSelect starts a query over the user's items matching f, with
// their owned counts, as "w".
func (s *Store) wishlistSelect(user uuid.UUID, f *WishlistFilter) *bun.SelectQuery {
	q := s.db.NewSelect().TableExpr("wishlist_items AS w").Where("w.user_id = ?", user)
	if f.Theme != nil {
		q = q.Where("w.theme = ?", *f.Theme)
	}
	if f.Search != nil && *f.Search != "" {
		pattern := "%" + escapeLike(*f.Search) + "%"
		q = q.Where("(w.title ILIKE ? OR w.set_number ILIKE ? OR w.notes ILIKE ?)", pattern, pattern, pattern)
	}
	if f.Acquired != nil {
		if *f.Acquired {
			q = q.Where("w.acquired_at IS NOT NULL")
		} else {
			q = q.Where("w.acquired_at IS NULL")
		}
	}
	if f.Priority != nil {
		q = q.Where("w.priority = ?", *f.Priority)
	}
	return q
}

// ListWishlist returns one page of the user's wishlist and, when count is
// true, how many items match the filter.
func (s *Store) ListWishlist(ctx context.Context, q *WishlistQuery, count bool) (*WishlistPage, error) {
	sel := s.wishlistSelect(q.UserID, &q.Filter).ColumnExpr("w.*").ColumnExpr(ownedCountExpr)
	if q.After != nil {
		sel = afterCursor(sel, keysOf(wishlistColumns, "w.", q.Order, false), q.After)
	}
	if q.Before != nil {
		sel = afterCursor(sel, keysOf(wishlistColumns, "w.", q.Order, true), q.Before)
	}
	sel = orderBy(sel, keysOf(wishlistColumns, "w.", q.Order, q.Backward)).Limit(int64(q.Limit + 1))
	items := []*models.WishlistItem{}
	err := s.readFor(ctx, q.UserID, func(ctx context.Context, db bun.IDB) error { return sel.Conn(db).Scan(ctx, &items) })
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list wishlist: %w", err)
	}
	page := &WishlistPage{Items: items}
	if len(items) > q.Limit {
		page.Items, page.HasMore = items[:q.Limit], true
	}
	if q.Backward {
		slices.Reverse(page.Items)
	}
	if count {
		var n int64
		err := s.readFor(ctx, q.UserID, func(ctx context.Context, db bun.IDB) (err error) {
			n, err = s.wishlistSelect(q.UserID, &q.Filter).Conn(db).Count(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("count wishlist: %w", err)
		}
		page.Total = new(int32)
		*page.Total = clamp32(n)
	}
	return page, nil
}

// AnyWishlistBeyond is AnyBeyond for the wishlist.
func (s *Store) AnyWishlistBeyond(ctx context.Context, q *WishlistQuery, c *Cursor, backward bool) (bool, error) {
	sel := atOrBeyond(s.wishlistSelect(q.UserID, &q.Filter), keysOf(wishlistColumns, "w.", q.Order, backward), c)
	var ok bool
	err := s.readFor(ctx, q.UserID, func(ctx context.Context, db bun.IDB) (err error) {
		ok, err = sel.Conn(db).Exists(ctx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("look beyond wishlist cursor: %w", err)
	}
	return ok, nil
}

// WishlistItem returns the user's item id; NotFound when it is missing or
// not theirs.
func (s *Store) WishlistItem(ctx context.Context, user, id uuid.UUID) (*models.WishlistItem, error) {
	items, err := s.WishlistItemsByID(ctx, user, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	if items[id] == nil {
		return nil, models.NotFound("wishlist item")
	}
	return items[id], nil
}

// WishlistItemsByID returns the user's items among ids, by id, in one
// statement: the loader behind Set.wishlistItem.
func (s *Store) WishlistItemsByID(ctx context.Context, user uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]*models.WishlistItem, error) {
	var items []*models.WishlistItem
	err := s.readFor(ctx, user, func(ctx context.Context, db bun.IDB) error {
		return db.NewSelect().TableExpr("wishlist_items AS w").ColumnExpr("w.*").ColumnExpr(ownedCountExpr).
			Where("w.user_id = ? AND w.id IN (?)", user, bun.In(ids)).Scan(ctx, &items)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load %d wishlist items: %w", len(ids), err)
	}
	out := make(map[uuid.UUID]*models.WishlistItem, len(items))
	for _, it := range items {
		out[it.ID] = it
	}
	return out, nil
}

// withOwnedCount reads item's owned count after a write: RETURNING cannot
// see the sets a statement's own CTE wrote, so this is its own query.
func withOwnedCount(ctx context.Context, db bun.IDB, item *models.WishlistItem) error {
	if item.CanonicalSetNumber == nil {
		item.OwnedCount = 0
		return nil
	}
	err := db.NewSelect().TableExpr("sets AS s").ColumnExpr("count(*)::int").
		Where("s.user_id = ? AND s.canonical_set_number = ?", item.UserID, *item.CanonicalSetNumber).
		Scan(ctx, &item.OwnedCount)
	if err != nil {
		return fmt.Errorf("count owned sets of wishlist item %s: %w", item.ID, err)
	}
	return nil
}

// AddWishlistItem inserts item for its user, filling in its id, defaults,
// key and timestamps.
func (s *Store) AddWishlistItem(ctx context.Context, item *models.WishlistItem) error {
	err := s.write(ctx, func(ctx context.Context) error {
		_, err := s.db.NewInsert().Model(item).Returning("*").Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("insert wishlist item: %w", err)
	}
	return s.read(ctx, func(ctx context.Context) error { return withOwnedCount(ctx, s.db, item) })
}

// WishlistPatch lists the columns to change and holds their new values.
type WishlistPatch struct {
	Item    models.WishlistItem
	Columns []string
}

// UpdateWishlistItem applies p to the user's item id and returns the new
// row. An empty patch changes nothing (updated_at included).
func (s *Store) UpdateWishlistItem(ctx context.Context, user, id uuid.UUID, p *WishlistPatch) (*models.WishlistItem, error) {
	if len(p.Columns) == 0 {
		return s.WishlistItem(ctx, user, id)
	}
	item := &p.Item
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context) (err error) {
		res, err = s.db.NewUpdate().Model(item).Column(p.Columns...).
			Where("id = ? AND user_id = ?", id, user).Returning("*").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update wishlist item %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, models.NotFound("wishlist item")
	}
	return item, s.read(ctx, func(ctx context.Context) error { return withOwnedCount(ctx, s.db, item) })
}

// DeleteWishlistItem deletes the user's item id; the sets that fulfilled
// it keep existing, their wishlistItemId cleared by the foreign key.
func (s *Store) DeleteWishlistItem(ctx context.Context, user, id uuid.UUID) error {
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context) (err error) {
		res, err = s.db.NewDelete().TableExpr("wishlist_items").Where("id = ? AND user_id = ?", id, user).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete wishlist item %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.NotFound("wishlist item")
	}
	return nil
}

// AcquireWishlistItem turns the user's item id into a set in one
// transaction: fill completes set from the locked item (the caller's rules
// for which of the item's fields the set takes), the set is inserted with
// its images and linked to the item, and the item is marked acquired.
func (s *Store) AcquireWishlistItem(ctx context.Context, user, id uuid.UUID, set *models.Set,
	images []*models.SetImage, fill func(*models.WishlistItem) error,
) (*models.WishlistItem, error) {
	item := &models.WishlistItem{}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewSelect().Model(item).Where("w.id = ? AND w.user_id = ?", id, user).For("UPDATE").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return models.NotFound("wishlist item")
		}
		if err != nil {
			return fmt.Errorf("lock wishlist item %s: %w", id, err)
		}
		if err := fill(item); err != nil {
			return err
		}
		set.UserID, set.WishlistItemID = user, &item.ID
		if err := insertSet(ctx, tx, set, images); err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model(item).Set("acquired_at = ?", time.Now().UTC()).
			Where("w.id = ?", id).Returning("*").Exec(ctx)
		if err != nil {
			return fmt.Errorf("mark wishlist item %s acquired: %w", id, err)
		}
		return withOwnedCount(ctx, tx, item)
	})
	if err != nil {
		return nil, err
	}
	return item, nil
}

// wishlistLinkError turns the database's refusal of a set's wishlist item
// (the composite foreign key: missing, or another user's) into NOT_FOUND on
// field; other errors pass through.
func wishlistLinkError(err error, field string) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23503" && pg.ConstraintName == "sets_wishlist_item_fk" {
		return &models.Error{Code: models.CodeNotFound, Message: "wishlist item not found", Field: field, Err: err}
	}
	return err
}
