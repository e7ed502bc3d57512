package graph

import (
	"context"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// wishlistFields is what WishlistItemInput and UpdateWishlistItemInput
// share, so one function validates both (as setFields does for sets).
type wishlistFields struct {
	Title                   graphql.Omittable[*string]
	SetNumber, Theme, Notes graphql.Omittable[*string]
	Priority                graphql.Omittable[*int32]
	TargetPrice             graphql.Omittable[*decimal.Decimal]
	AcquiredAt              graphql.Omittable[*time.Time]
}

// patch validates every field that was sent into p, in a fixed order.
func (f *wishlistFields) patch(p *store.WishlistPatch) error {
	w := &p.Item
	var err error
	col := func(name string) { p.Columns = append(p.Columns, name) }
	if v, ok := f.Title.ValueOK(); ok {
		if v == nil {
			return models.Invalid("input.title", "may not be null")
		}
		if w.Title, err = models.Text("input.title", *v, 1, models.MaxTitle); err != nil {
			return err
		}
		col("title")
	}
	texts := []struct {
		o    graphql.Omittable[*string]
		dst  **string
		name string
		col  string
		max  int
	}{
		{f.SetNumber, &w.SetNumber, "input.setNumber", "set_number", models.MaxSetNumber},
		{f.Theme, &w.Theme, "input.theme", "theme", models.MaxTheme},
		{f.Notes, &w.Notes, "input.notes", "notes", models.MaxNotes},
	}
	for _, t := range texts {
		if v, ok := t.o.ValueOK(); ok {
			if *t.dst, err = models.OptText(t.name, v, t.max); err != nil {
				return err
			}
			col(t.col)
		}
	}
	if v, ok := f.Priority.ValueOK(); ok {
		if v == nil {
			return models.Invalid("input.priority", "may not be null")
		}
		if err := models.IntRange("input.priority", *v, models.MinPriority, models.MaxPriority); err != nil {
			return err
		}
		w.Priority = *v
		col("priority")
	}
	if v, ok := f.TargetPrice.ValueOK(); ok {
		if err := models.Money("input.targetPrice", v); err != nil {
			return err
		}
		w.TargetPrice = v
		col("target_price")
	}
	if v, ok := f.AcquiredAt.ValueOK(); ok {
		if err := models.Date("input.acquiredAt", v); err != nil {
			return err
		}
		w.AcquiredAt = v
		col("acquired_at")
	}
	return nil
}

// newWishlistItem validates a WishlistItemInput into an item for user.
func newWishlistItem(user uuid.UUID, in *model.WishlistItemInput) (*models.WishlistItem, error) {
	p := store.WishlistPatch{Item: models.WishlistItem{UserID: user, Priority: models.DefaultPriority}}
	f := wishlistFields{
		Title: graphql.OmittableOf(&in.Title), SetNumber: in.SetNumber, Theme: in.Theme, Notes: in.Notes,
		Priority: in.Priority, TargetPrice: in.TargetPrice, AcquiredAt: in.AcquiredAt,
	}
	if err := f.patch(&p); err != nil {
		return nil, err
	}
	return &p.Item, nil
}

// wishlistPatch validates an UpdateWishlistItemInput.
func wishlistPatch(in *model.UpdateWishlistItemInput) (*store.WishlistPatch, error) {
	p := &store.WishlistPatch{}
	f := wishlistFields{
		Title: in.Title, SetNumber: in.SetNumber, Theme: in.Theme, Notes: in.Notes,
		Priority: in.Priority, TargetPrice: in.TargetPrice, AcquiredAt: in.AcquiredAt,
	}
	return p, f.patch(p)
}

// newWishlistQuery validates the arguments of Query.wishlist, with the
// page rules of Query.sets.
func newWishlistQuery(user uuid.UUID, filter *model.WishlistFilter, orderBy []*model.WishlistOrder,
	first *int32, after *string, last *int32, before *string,
) (*store.WishlistQuery, error) {
	q := &store.WishlistQuery{UserID: user}
	if filter != nil {
		var err error
		if q.Filter.Theme, err = filterText("filter.theme", filter.Theme.Value(), models.MaxTheme); err != nil {
			return nil, err
		}
		if q.Filter.Search, err = filterText("filter.search", filter.Search.Value(), models.MaxSearch); err != nil {
			return nil, err
		}
		q.Filter.Acquired = filter.Acquired.Value()
		if p := filter.Priority.Value(); p != nil {
			if err := models.IntRange("filter.priority", *p, models.MinPriority, models.MaxPriority); err != nil {
				return nil, err
			}
			q.Filter.Priority = p
		}
	}
	order := make([]*model.SetOrder, len(orderBy))
	for i, o := range orderBy {
		order[i] = &model.SetOrder{Field: model.SetOrderField(o.Field), Direction: o.Direction}
	}
	var err error
	if q.Order, err = newOrder(order); err != nil {
		return nil, err
	}
	if q.Limit, q.Backward, err = pageSize(first, last); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		v    *string
		dst  **store.Cursor
		name string
	}{{after, &q.After, "after"}, {before, &q.Before, "before"}} {
		if c.v == nil {
			continue
		}
		if *c.dst, err = store.ParseWishlistCursor(q.Order, strings.TrimSpace(*c.v)); err != nil {
			return nil, models.Invalid(c.name, "%v", err)
		}
	}
	return q, nil
}

// wishlistConnection builds the answer of Query.wishlist from page,
// looking up the pageInfo flags only when they are asked for.
func (r *Resolver) wishlistConnection(ctx context.Context, q *store.WishlistQuery, page *store.WishlistPage) (*model.WishlistItemConnection, error) {
	conn := &model.WishlistItemConnection{
		Nodes: page.Items, Edges: make([]*model.WishlistItemEdge, len(page.Items)), PageInfo: &model.PageInfo{},
	}
	for i, it := range page.Items {
		conn.Edges[i] = &model.WishlistItemEdge{Cursor: store.WishlistCursorFor(q.Order, it), Node: it}
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &conn.Edges[0].Cursor, &conn.Edges[n-1].Cursor
	}
	if page.Total != nil {
		conn.TotalCount = *page.Total
	}
	var err error
	if requested(ctx, "pageInfo", "hasNextPage") {
		conn.PageInfo.HasNextPage = !q.Backward && page.HasMore
		if !conn.PageInfo.HasNextPage && q.Before != nil {
			if conn.PageInfo.HasNextPage, err = r.Store.AnyWishlistBeyond(ctx, q, q.Before, false); err != nil {
				return nil, err
			}
		}
	}
	if requested(ctx, "pageInfo", "hasPreviousPage") {
		conn.PageInfo.HasPreviousPage = q.Backward && page.HasMore
		if !conn.PageInfo.HasPreviousPage && q.After != nil {
			if conn.PageInfo.HasPreviousPage, err = r.Store.AnyWishlistBeyond(ctx, q, q.After, true); err != nil {
				return nil, err
			}
		}
	}
	return conn, nil
}

// acquireFill returns the function that completes an acquired item's set:
// title, set number and theme from the item unless the input gave them.
func acquireFill(set *models.Set, in *model.CreateSetInput) func(*models.WishlistItem) error {
	return func(item *models.WishlistItem) error {
		if item.AcquiredAt != nil {
			return models.Invalid("id", "this wishlist item was acquired at %s; set its acquiredAt to null to acquire it again",
				item.AcquiredAt.UTC().Format(time.RFC3339))
		}
		if in == nil {
			set.Title = item.Title
		}
		if in == nil || !in.SetNumber.IsSet() {
			set.SetNumber = item.SetNumber
		}
		if in == nil || !in.Theme.IsSet() {
			set.Theme = item.Theme
		}
		return nil
	}
}

// wishlistItemsOf reads the wishlist items the sets point at, in one
// statement (none when no set points at one).
func (r *Resolver) wishlistItemsOf(ctx context.Context, user uuid.UUID, sets []*models.Set) (map[uuid.UUID]*models.WishlistItem, error) {
	ids := make([]uuid.UUID, 0, len(sets))
	for _, s := range sets {
		if s.WishlistItemID != nil {
			ids = append(ids, *s.WishlistItemID)
		}
	}
	if len(ids) == 0 {
		return map[uuid.UUID]*models.WishlistItem{}, nil
	}
	return r.Store.WishlistItemsByID(ctx, user, ids)
}
