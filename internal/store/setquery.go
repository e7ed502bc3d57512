package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/brickgallery/sets/models"
)

// SetFilter narrows a user's sets; nil fields are not applied. Strings are
// expected trimmed by the caller.
type SetFilter struct {
	Theme         *string
	Themes        []string // nil: not applied; empty: matches nothing
	IsBuilt       *bool
	Tags          []string // every one, case-insensitively
	Search        *string  // case-insensitive substring of title, set number or notes
	SetNumber     *string
	Store         *string
	PieceCountMin *int32
	PieceCountMax *int32
	PurchasedFrom *time.Time // inclusive
	PurchasedTo   *time.Time // exclusive
}

// onlyTheme returns f's theme when it is f's only condition.
func (f *SetFilter) onlyTheme() (string, bool) {
	rest := *f
	rest.Theme = nil
	if rest.Search != nil && *rest.Search == "" {
		rest.Search = nil // an empty search is not applied
	}
	// IsZero rather than a field list, so a field added later cannot be
	// forgotten here.
	if f.Theme == nil || !reflect.ValueOf(rest).IsZero() {
		return "", false
	}
	return *f.Theme, true
}

// OrderField is a sort key of the gallery. Its value is the GraphQL enum
// name, which also identifies it inside cursors.
type OrderField string

// The sort keys of SPEC §3.
const (
	OrderCreatedAt     OrderField = "CREATED_AT"
	OrderUpdatedAt     OrderField = "UPDATED_AT"
	OrderTitle         OrderField = "TITLE"
	OrderSetNumber     OrderField = "SET_NUMBER"
	OrderTheme         OrderField = "THEME"
	OrderPieceCount    OrderField = "PIECE_COUNT"
	OrderReleaseDate   OrderField = "RELEASE_DATE"
	OrderPurchaseDate  OrderField = "PURCHASE_DATE"
	OrderPurchasePrice OrderField = "PURCHASE_PRICE"
)

// column describes how a sort key reads from the table and from a row of T
// (a set, a wishlist item).
type column[T any] struct {
	name    string
	notNull bool
	value   func(*T) any // nil for NULL
	decode  func(json.RawMessage) (any, error)
}

var columns = map[OrderField]column[models.Set]{
	OrderCreatedAt:     {"created_at", true, func(s *models.Set) any { return s.CreatedAt }, decodeTime},
	OrderUpdatedAt:     {"updated_at", true, func(s *models.Set) any { return s.UpdatedAt }, decodeTime},
	OrderTitle:         {"title", true, func(s *models.Set) any { return s.Title }, decodeString},
	OrderSetNumber:     {"set_number", false, func(s *models.Set) any { return deref(s.SetNumber) }, decodeString},
	OrderTheme:         {"theme", false, func(s *models.Set) any { return deref(s.Theme) }, decodeString},
	OrderPieceCount:    {"piece_count", false, func(s *models.Set) any { return deref(s.PieceCount) }, decodeInt},
	OrderReleaseDate:   {"release_date", false, func(s *models.Set) any { return deref(s.ReleaseDate) }, decodeTime},
	OrderPurchaseDate:  {"purchase_date", false, func(s *models.Set) any { return deref(s.PurchaseDate) }, decodeTime},
	OrderPurchasePrice: {"purchase_price", false, func(s *models.Set) any { return deref(s.PurchasePrice) }, decodeDecimal},
}

// deref returns *p, or an untyped nil for a nil pointer (a NULL key).
func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// Order is one sort key.
type Order struct {
	Field OrderField
	Desc  bool
}

// DefaultOrder is the gallery's order when none is given.
var DefaultOrder = []Order{{Field: OrderCreatedAt, Desc: true}}

// SetQuery is a request for one page of a user's sets.
type SetQuery struct {
	UserID uuid.UUID
	Filter SetFilter
	Order  []Order // without the id tiebreaker, which is implied
	// Limit is how many sets the page holds; Backward means they are the
	// last Limit sets before Before (or of the whole list).
	Limit    int
	Backward bool
	After    *Cursor
	Before   *Cursor
}

// SetPage is one page, in the query's order whichever way it was fetched.
type SetPage struct {
	Sets []*models.Set
	// HasMore is true when more sets lie beyond the page in the direction of
	// travel (after it going forward, before it going backward).
	HasMore bool
	// Images holds the images of the page's sets in display order (a set
	// without images has no entry); nil unless PageOptions.Images.
	Images map[uuid.UUID][]*models.SetImage
	// Total counts the user's sets matching the filter; nil unless
	// PageOptions.Count.
	Total *int32
}

// Cursor is a position in one ordering: the sort keys' values of a row and
// its id. Values are nil for NULL keys.
type Cursor struct {
	Order  []Order
	Values []any
	ID     uuid.UUID
}

// cursorJSON is the wire form. The ordering travels with the cursor so a
// cursor used with another orderBy is refused rather than misread.
type cursorJSON struct {
	Order  string            `json:"o"`
	Values []json.RawMessage `json:"v"`
	ID     uuid.UUID         `json:"i"`
}

// CursorFor returns the cursor of s in order.
func CursorFor(order []Order, s *models.Set) string {
	return cursorFor(columns, "", order, s, s.ID)
}

// cursorFor returns the cursor of row (whose id is id) in order, in the
// list named list ("" for the sets, whose cursors predate other lists).
func cursorFor[T any](cols map[OrderField]column[T], list string, order []Order, row *T, id uuid.UUID) string {
	c := cursorJSON{Order: list + orderKey(order), ID: id, Values: make([]json.RawMessage, len(order))}
	for i, o := range order {
		v := cols[o.Field].value(row)
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(time.RFC3339Nano)
		}
		b, _ := json.Marshal(v) // strings, numbers, decimals and nil all marshal
		c.Values[i] = b
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ErrBadCursor is returned for a cursor that is malformed or belongs to
// another ordering.
var ErrBadCursor = fmt.Errorf("not a cursor of this list with this orderBy")

// ParseCursor decodes s, checking it was made for order.
func ParseCursor(order []Order, s string) (*Cursor, error) {
	return parseCursor(columns, "", order, s)
}

// parseCursor decodes s, checking it was made for order in list.
func parseCursor[T any](cols map[OrderField]column[T], list string, order []Order, s string) (*Cursor, error) {
	if len(s) > 4096 {
		return nil, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	var c cursorJSON
	if err := json.Unmarshal(raw, &c); err != nil || c.Order != list+orderKey(order) || len(c.Values) != len(order) {
		return nil, ErrBadCursor
	}
	cur := &Cursor{Order: order, ID: c.ID, Values: make([]any, len(order))}
	for i, o := range order {
		if string(c.Values[i]) == "null" {
			continue
		}
		v, err := cols[o.Field].decode(c.Values[i])
		if err != nil {
			return nil, ErrBadCursor
		}
		cur.Values[i] = v
	}
	return cur, nil
}

func orderKey(order []Order) string {
	parts := make([]string, len(order))
	for i, o := range order {
		dir := "A"
		if o.Desc {
			dir = "D"
		}
		parts[i] = string(o.Field) + ":" + dir
	}
	return strings.Join(parts, ",")
}

func decodeTime(b json.RawMessage) (any, error) {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return time.Parse(time.RFC3339Nano, s)
}

func decodeString(b json.RawMessage) (any, error) {
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

func decodeInt(b json.RawMessage) (any, error) {
	var n int32
	err := json.Unmarshal(b, &n)
	return n, err
}

func decodeDecimal(b json.RawMessage) (any, error) {
	var d decimal.Decimal
	err := json.Unmarshal(b, &d)
	return d, err
}

// key is one sort key as the SQL sees it: the column, which way it runs and
// where its NULLs go in the direction rows are fetched.
type key struct {
	col        string
	notNull    bool
	desc       bool
	nullsFirst bool
}

// keys returns the sort keys of order plus the id tiebreaker (in the last
// key's direction), turned around when fetching backward: then NULLs, last
// in the list's order, come first.
func keys(order []Order, backward bool) []key {
	return keysOf(columns, "s.", order, backward)
}

// keysOf is keys for the table aliased by prefix, whose sort keys are cols.
func keysOf[T any](cols map[OrderField]column[T], prefix string, order []Order, backward bool) []key {
	ks := make([]key, 0, len(order)+1)
	for _, o := range order {
		c := cols[o.Field]
		ks = append(ks, key{col: prefix + c.name, notNull: c.notNull, desc: o.Desc != backward, nullsFirst: backward})
	}
	last := order[len(order)-1]
	return append(ks, key{col: prefix + "id", notNull: true, desc: last.Desc != backward, nullsFirst: backward})
}

// orderBy applies ks to q. NOT NULL columns get no NULLS clause, so that an
// index on (col DESC) still serves ORDER BY col DESC.
func orderBy(q *bun.SelectQuery, ks []key) *bun.SelectQuery {
	for _, k := range ks {
		dir := "ASC"
		if k.desc {
			dir = "DESC"
		}
		switch {
		case k.notNull:
		case k.nullsFirst:
			dir += " NULLS FIRST"
		default:
			dir += " NULLS LAST"
		}
		q = q.OrderExpr(k.col + " " + dir)
	}
	return q
}

// afterCursor restricts q to the rows strictly after c in the order ks.
func afterCursor(q *bun.SelectQuery, ks []key, c *Cursor) *bun.SelectQuery {
	vals := append(append([]any{}, c.Values...), c.ID)
	if sameWayNotNull(ks) {
		// A row comparison is what an index on the same keys can seek to.
		cols, ph := make([]string, len(ks)), make([]string, len(ks))
		for i, k := range ks {
			cols[i], ph[i] = k.col, "?"
		}
		op := ">"
		if ks[0].desc {
			op = "<"
		}
		return q.Where("("+strings.Join(cols, ", ")+") "+op+" ("+strings.Join(ph, ", ")+")", vals...)
	}
	// Lexicographic expansion: (k0 after) OR (k0 equal AND k1 after) OR ...
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		for i := range ks {
			q = q.WhereGroup(" OR ", func(q *bun.SelectQuery) *bun.SelectQuery {
				for j := 0; j < i; j++ {
					q = equalTo(q, ks[j], vals[j])
				}
				return beyond(q, ks[i], vals[i])
			})
		}
		return q
	})
}

// atOrBeyond restricts q to the row at c and the rows after it in the order
// ks (whose last key is the id).
func atOrBeyond(q *bun.SelectQuery, ks []key, c *Cursor) *bun.SelectQuery {
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		q = afterCursor(q, ks, c)
		return q.WhereGroup(" OR ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for i, k := range ks[:len(ks)-1] {
				q = equalTo(q, k, c.Values[i])
			}
			return q.Where(ks[len(ks)-1].col+" = ?", c.ID)
		})
	})
}

func sameWayNotNull(ks []key) bool {
	for _, k := range ks {
		if !k.notNull || k.desc != ks[0].desc {
			return false
		}
	}
	return true
}

func equalTo(q *bun.SelectQuery, k key, v any) *bun.SelectQuery {
	if v == nil {
		return q.Where(k.col + " IS NULL")
	}
	return q.Where(k.col+" = ?", v)
}

// beyond keeps the rows whose key k sorts strictly after v.
func beyond(q *bun.SelectQuery, k key, v any) *bun.SelectQuery {
	op := ">"
	if k.desc {
		op = "<"
	}
	switch {
	case v == nil && k.nullsFirst:
		return q.Where(k.col + " IS NOT NULL")
	case v == nil:
		return q.Where("false")
	case k.nullsFirst || k.notNull:
		return q.Where(k.col+" "+op+" ?", v)
	default:
		return q.Where("("+k.col+" "+op+" ? OR "+k.col+" IS NULL)", v)
	}
}

// applyFilter adds the user scope and every condition of f.
func applyFilter(q *bun.SelectQuery, user uuid.UUID, f *SetFilter) *bun.SelectQuery {
	q = q.Where("s.user_id = ?", user)
	if f.Theme != nil {
		q = q.Where("s.theme = ?", *f.Theme)
	}
	if f.Themes != nil {
		if len(f.Themes) == 0 {
			q = q.Where("false")
		} else {
			q = q.Where("s.theme IN (?)", bun.In(f.Themes))
		}
	}
	if f.IsBuilt != nil {
		q = q.Where("s.is_built = ?", *f.IsBuilt)
	}
	if len(f.Tags) > 0 {
		lower := make([]string, len(f.Tags))
		for i, t := range f.Tags {
			lower[i] = strings.ToLower(t)
		}
		q = q.Where("ARRAY(SELECT lower(t) FROM unnest(s.tags) AS t) @> ?::text[]", pgdialect.Array(lower))
	}
	if f.Search != nil && *f.Search != "" {
		pattern := "%" + escapeLike(*f.Search) + "%"
		q = q.Where("(s.title ILIKE ? OR s.set_number ILIKE ? OR s.notes ILIKE ?)", pattern, pattern, pattern)
	}
	if f.SetNumber != nil {
		// SPEC §7: "75192" finds "75192-1" and the reverse; the index on
		// (user_id, canonical_set_number) serves it.
		q = q.Where("s.canonical_set_number = canonical_set_number(?)", *f.SetNumber)
	}
	if f.Store != nil {
		q = q.Where("s.store = ?", *f.Store)
	}
	if f.PieceCountMin != nil {
		q = q.Where("s.piece_count >= ?", *f.PieceCountMin)
	}
	if f.PieceCountMax != nil {
		q = q.Where("s.piece_count <= ?", *f.PieceCountMax)
	}
	if f.PurchasedFrom != nil {
		q = q.Where("s.purchase_date >= ?", *f.PurchasedFrom)
	}
	if f.PurchasedTo != nil {
		q = q.Where("s.purchase_date < ?", *f.PurchasedTo)
	}
	return q
}

// escapeLike makes %, _ and the escape character itself literal in a LIKE
// pattern (PostgreSQL's default escape character is the backslash).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
