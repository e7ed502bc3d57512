package graph

import (
	"context"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// Page size limits of SPEC §3.
const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxOrderKeys    = 3
)

func itoa(i int) string { return strconv.Itoa(i) }

// filterText validates an optional filter string: trimmed, no NUL.
func filterText(field string, s *string, max int) (*string, error) {
	if s == nil {
		return nil, nil
	}
	v, err := models.Text(field, *s, 0, max)
	return &v, err
}

// filterTexts validates a list of filter strings.
func filterTexts(field string, list []string, max int) ([]string, error) {
	if list == nil {
		return nil, nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		v, err := models.Text(field+"."+itoa(i), s, 0, max)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// newFilter validates a SetFilter argument named arg.
func newFilter(arg string, in *model.SetFilter) (store.SetFilter, error) {
	var f store.SetFilter
	if in == nil {
		return f, nil
	}
	var err error
	texts := []struct {
		src  *string
		dst  **string
		name string
		max  int
	}{
		{in.Theme.Value(), &f.Theme, "theme", models.MaxTheme},
		{in.Search.Value(), &f.Search, "search", models.MaxSearch},
		{in.SetNumber.Value(), &f.SetNumber, "setNumber", models.MaxSetNumber},
		{in.Store.Value(), &f.Store, "store", models.MaxStore},
	}
	for _, t := range texts {
		if *t.dst, err = filterText(arg+"."+t.name, t.src, t.max); err != nil {
			return f, err
		}
	}
	if f.Themes, err = filterTexts(arg+".themes", in.Themes.Value(), models.MaxTheme); err != nil {
		return f, err
	}
	if f.Tags, err = filterTexts(arg+".tags", in.Tags.Value(), models.MaxTag); err != nil {
		return f, err
	}
	f.IsBuilt = in.IsBuilt.Value()
	f.PieceCountMin, f.PieceCountMax = in.PieceCountMin.Value(), in.PieceCountMax.Value()
	f.PurchasedFrom, f.PurchasedTo = in.PurchasedFrom.Value(), in.PurchasedTo.Value()
	return f, nil
}

// newOrder validates orderBy: at most maxOrderKeys keys, each field once.
func newOrder(in []*model.SetOrder) ([]store.Order, error) {
	if len(in) == 0 {
		return store.DefaultOrder, nil
	}
	if len(in) > maxOrderKeys {
		return nil, models.Invalid("orderBy", "at most %d sort keys (got %d)", maxOrderKeys, len(in))
	}
	order := make([]store.Order, len(in))
	seen := map[store.OrderField]bool{}
	for i, o := range in {
		f := store.OrderField(o.Field)
		if seen[f] {
			return nil, models.Invalid("orderBy."+itoa(i)+".field", "%s is given twice", f)
		}
		seen[f] = true
		order[i] = store.Order{Field: f, Desc: o.Direction == model.OrderDirectionDesc}
	}
	return order, nil
}

// newSetQuery validates the arguments of Query.sets.
func newSetQuery(user uuid.UUID, filter *model.SetFilter, orderBy []*model.SetOrder,
	first *int32, after *string, last *int32, before *string,
) (*store.SetQuery, error) {
	q := &store.SetQuery{UserID: user}
	var err error
	if q.Filter, err = newFilter("filter", filter); err != nil {
		return nil, err
	}
	if q.Order, err = newOrder(orderBy); err != nil {
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
		if *c.dst, err = store.ParseCursor(q.Order, strings.TrimSpace(*c.v)); err != nil {
			return nil, models.Invalid(c.name, "%v", err)
		}
	}
	return q, nil
}

// pageSize validates a connection's first and last: how many rows the
// page holds and whether they are the last ones before a point.
func pageSize(first, last *int32) (limit int, backward bool, err error) {
	if first != nil && last != nil {
		return 0, false, models.Invalid("last", "give first or last, not both")
	}
	limit = defaultPageSize
	for _, n := range []struct {
		v    *int32
		name string
	}{{first, "first"}, {last, "last"}} {
		if n.v == nil {
			continue
		}
		if *n.v < 0 || *n.v > maxPageSize {
			return 0, false, models.Invalid(n.name, "must be from 0 to %d (got %d)", maxPageSize, *n.v)
		}
		limit = int(*n.v)
	}
	return limit, last != nil, nil
}

// hasNextPage answers pageInfo.hasNextPage. The flag for the direction of
// travel comes from fetching one row more than asked; the other side is
// looked up only when a cursor bounds it.
func (r *Resolver) hasNextPage(ctx context.Context, q *store.SetQuery, page *store.SetPage) (bool, error) {
	if !q.Backward && page.HasMore {
		return true, nil
	}
	// Sets past the page may also lie at or after a before cursor (with
	// last, or with first when the page stopped short of it).
	if q.Before == nil {
		return false, nil
	}
	return r.Store.AnyBeyond(ctx, q, q.Before, false)
}

// hasPreviousPage answers pageInfo.hasPreviousPage, as hasNextPage.
func (r *Resolver) hasPreviousPage(ctx context.Context, q *store.SetQuery, page *store.SetPage) (bool, error) {
	if q.Backward && page.HasMore {
		return true, nil
	}
	if q.After == nil {
		return false, nil
	}
	return r.Store.AnyBeyond(ctx, q, q.After, true)
}
