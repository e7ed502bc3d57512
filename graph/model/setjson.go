package model

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/shopspring/decimal"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/brickgallery/sets/graph/loader"
	"github.com/brickgallery/sets/graph/scalar"
	"github.com/brickgallery/sets/models"
)

// Set is the GraphQL Set. It writes its own JSON instead of going through
// gqlgen's per-field execution, which allocates a field context, closures
// and a boxed value for each of a gallery page's ~1,750 values and cost more
// CPU than the database did (bench/HISTORY.md: 2.4 times less CPU per
// page). It honours everything a client can ask of an object: the selection
// set with aliases, fragments, @skip/@include and __typename, as gqlgen's
// CollectFields resolves them; the schema's validation, complexity and depth
// limits run before it, unchanged. The output is what gqlgen wrote, byte
// for byte. TestSetWritesEverySchemaField (internal/server) fails when a
// field of Set or SetImage is missing here.
//
// gqlgen treats a bound type with MarshalGQLContext/UnmarshalGQLContext as
// self-marshalling; that is how this type takes over.
type Set struct {
	*models.Set
	// plans is shared by the sets of one list (createSet's duplicates), so
	// that the list resolves its selection once instead of once per set;
	// nil for a set written on its own. A page of sets is written by
	// SetConnection, which resolves it once too.
	plans *fieldPlans
}

// NewSet wraps s; nil stays nil.
func NewSet(s *models.Set) *Set {
	if s == nil {
		return nil
	}
	return &Set{Set: s}
}

// NewSets wraps each of sets; they share one resolution of their selection.
func NewSets(sets []*models.Set) []*Set {
	plans := new(fieldPlans)
	out := make([]*Set, len(sets))
	for i, s := range sets {
		out[i] = &Set{Set: s, plans: plans}
	}
	return out
}

// fieldPlan is what one selection of Set resolves to: its fields in order,
// and, for each images field among them (it may be aliased more than once,
// with different selections), the fields of SetImage under it.
type fieldPlan struct {
	fields    []graphql.CollectedField
	images    [][]graphql.CollectedField // by index in fields
	hasImages bool
	// wishlist is images' counterpart for the wishlistItem fields.
	wishlist    [][]graphql.CollectedField
	hasWishlist bool
}

// fieldPlans remembers the plans of one request's list of sets, by the
// field they are selected under: a list can be written under more than one
// field, and a plan depends on the request's variables (@skip, @include),
// so it is never kept longer.
type fieldPlans struct {
	mu    sync.Mutex
	plans map[*ast.Field]*fieldPlan
}

func newFieldPlan(oc *graphql.OperationContext, sel ast.SelectionSet) *fieldPlan {
	p := &fieldPlan{fields: graphql.CollectFields(oc, sel, []string{"Set"})}
	for i, f := range p.fields {
		if f.Name == "images" {
			if p.images == nil {
				p.images = make([][]graphql.CollectedField, len(p.fields))
			}
			p.images[i] = graphql.CollectFields(oc, f.Selections, []string{"SetImage"})
			p.hasImages = true
		}
		if f.Name == "wishlistItem" {
			if p.wishlist == nil {
				p.wishlist = make([][]graphql.CollectedField, len(p.fields))
			}
			p.wishlist[i] = graphql.CollectFields(oc, f.Selections, []string{"WishlistItem"})
			p.hasWishlist = true
		}
	}
	return p
}

// fieldOf returns the field whose value ctx writes, through list indexes
// (which have no field of their own); nil outside of any field.
func fieldOf(ctx context.Context) *graphql.CollectedField {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Field.Field != nil {
			return &fc.Field
		}
	}
	return nil
}

// plan returns the plan of the selection under which ctx writes the set.
func (s Set) plan(ctx context.Context) *fieldPlan {
	oc := graphql.GetOperationContext(ctx)
	at := fieldOf(ctx)
	if at == nil {
		return newFieldPlan(oc, nil)
	}
	if s.plans == nil {
		return newFieldPlan(oc, at.Selections)
	}
	s.plans.mu.Lock()
	defer s.plans.mu.Unlock()
	p := s.plans.plans[at.Field]
	if p == nil {
		if s.plans.plans == nil {
			s.plans.plans = make(map[*ast.Field]*fieldPlan, 1)
		}
		p = newFieldPlan(oc, at.Selections)
		s.plans.plans[at.Field] = p
	}
	return p
}

// Images returns the set's images in display order, through the request's
// dataloader: one statement for every set of a page.
func (s Set) Images(ctx context.Context) ([]*models.SetImage, error) {
	return loader.Images(ctx, s.ID)
}

// WishlistItem returns the wishlist item the set fulfils (nil for none),
// through the request's loader: one statement for a list of sets.
func (s Set) WishlistItem(ctx context.Context) (*models.WishlistItem, error) {
	return loader.WishlistItem(ctx, s.Set)
}

// UnmarshalGQLContext exists because gqlgen binds marshalling types in
// pairs; Set is an output type and never arrives as input.
func (*Set) UnmarshalGQLContext(context.Context, any) error {
	return errors.New("Set is an output type")
}

// MarshalGQLContext writes the set's selected fields. A failure to load the
// images is returned before anything is written; gqlgen then writes null and
// reports the error.
func (s Set) MarshalGQLContext(ctx context.Context, w io.Writer) error {
	plan := s.plan(ctx)
	var images []*models.SetImage
	if plan.hasImages {
		var err error
		if images, err = s.Images(ctx); err != nil {
			return err
		}
	}
	var item *models.WishlistItem
	if plan.hasWishlist {
		var err error
		if item, err = s.WishlistItem(ctx); err != nil {
			return err
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 { // a set with hundreds of photos is not kept
			bufPool.Put(bp)
		}
	}()
	*bp = appendSet((*bp)[:0], s.Set, plan, images, item)
	_, err := w.Write(*bp)
	return err
}

// appendSet writes s's fields under plan, with images as its images and
// item as its wishlist item.
func appendSet(b []byte, s *models.Set, plan *fieldPlan, images []*models.SetImage, item *models.WishlistItem) []byte {
	b = append(b, '{')
	for i, f := range plan.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, f.Alias)
		if f.Name == "images" {
			b = appendImages(b, plan.images[i], images)
			continue
		}
		if f.Name == "wishlistItem" {
			b = appendWishlistItem(b, plan.wishlist[i], item)
			continue
		}
		b = appendSetField(b, s, f.Name)
	}
	return append(b, '}')
}

// bufPool holds the buffers sets are written into before being copied to
// the response: a set with its images is a few KB.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

func appendSetField(b []byte, s *models.Set, name string) []byte {
	switch name {
	case "__typename":
		return append(b, `"Set"`...)
	case "id":
		return scalar.AppendUUID(b, s.ID)
	case "title":
		return appendString(b, s.Title)
	case "setNumber":
		return appendOptString(b, s.SetNumber)
	case "canonicalSetNumber":
		return appendOptString(b, s.CanonicalSetNumber)
	case "store":
		return appendOptString(b, s.Store)
	case "sourceUrl":
		return appendOptString(b, s.SourceURL)
	case "pieceCount":
		return appendOptInt(b, s.PieceCount)
	case "releaseDate":
		return appendOptTime(b, s.ReleaseDate)
	case "theme":
		return appendOptString(b, s.Theme)
	case "tags":
		b = append(b, '[')
		for i, t := range s.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		return append(b, ']')
	case "notes":
		return appendOptString(b, s.Notes)
	case "isBuilt":
		return strconv.AppendBool(b, s.IsBuilt)
	case "quantity":
		return strconv.AppendInt(b, int64(s.Quantity), 10)
	case "purchasePrice":
		return appendOptDecimal(b, s.PurchasePrice)
	case "tax":
		return appendOptDecimal(b, s.Tax)
	case "shipping":
		return appendOptDecimal(b, s.Shipping)
	case "totalCost":
		return appendOptDecimal(b, s.TotalCost())
	case "purchaseDate":
		return appendOptTime(b, s.PurchaseDate)
	case "wishlistItemId":
		if s.WishlistItemID == nil {
			return append(b, "null"...)
		}
		return scalar.AppendUUID(b, *s.WishlistItemID)
	case "createdAt":
		return scalar.AppendDateTime(b, s.CreatedAt)
	case "updatedAt":
		return scalar.AppendDateTime(b, s.UpdatedAt)
	}
	// Validation admits only the schema's fields, and every one is above.
	return append(b, "null"...)
}

func appendImages(b []byte, fields []graphql.CollectedField, images []*models.SetImage) []byte {
	b = append(b, '[')
	for i, img := range images {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		for j, f := range fields {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendKey(b, f.Alias)
			b = appendImageField(b, img, f.Name)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendImageField(b []byte, img *models.SetImage, name string) []byte {
	switch name {
	case "__typename":
		return append(b, `"SetImage"`...)
	case "id":
		return scalar.AppendUUID(b, img.ID)
	case "setId":
		return scalar.AppendUUID(b, img.SetID)
	case "imageUrl":
		return appendString(b, img.ImageURL)
	case "thumbnailUrl":
		return appendOptString(b, img.ThumbnailURL)
	case "position":
		return strconv.AppendInt(b, int64(img.Position), 10)
	case "createdAt":
		return scalar.AppendDateTime(b, img.CreatedAt)
	case "width":
		return appendOptInt(b, img.Width)
	case "height":
		return appendOptInt(b, img.Height)
	case "contentType":
		return appendOptString(b, img.ContentType)
	case "byteSize":
		return appendOptInt(b, img.ByteSize)
	case "uploaded":
		return strconv.AppendBool(b, img.Uploaded())
	}
	return append(b, "null"...)
}

// appendWishlistItem writes item's selected fields, or null for no item.
// Elsewhere WishlistItem goes through gqlgen's executor; this is the same
// output, byte for byte, for the one place a set writes it.
func appendWishlistItem(b []byte, fields []graphql.CollectedField, item *models.WishlistItem) []byte {
	if item == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, f.Alias)
		switch f.Name {
		case "__typename":
			b = append(b, `"WishlistItem"`...)
		case "id":
			b = scalar.AppendUUID(b, item.ID)
		case "title":
			b = appendString(b, item.Title)
		case "setNumber":
			b = appendOptString(b, item.SetNumber)
		case "canonicalSetNumber":
			b = appendOptString(b, item.CanonicalSetNumber)
		case "theme":
			b = appendOptString(b, item.Theme)
		case "priority":
			b = strconv.AppendInt(b, int64(item.Priority), 10)
		case "targetPrice":
			b = appendOptDecimal(b, item.TargetPrice)
		case "notes":
			b = appendOptString(b, item.Notes)
		case "acquiredAt":
			b = appendOptTime(b, item.AcquiredAt)
		case "ownedCount":
			b = strconv.AppendInt(b, int64(item.OwnedCount), 10)
		case "createdAt":
			b = scalar.AppendDateTime(b, item.CreatedAt)
		case "updatedAt":
			b = scalar.AppendDateTime(b, item.UpdatedAt)
		default: // validation admits only the schema's fields
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// appendKey writes an alias as an object key; GraphQL names need no
// escaping.
func appendKey(b []byte, alias string) []byte {
	b = append(b, '"')
	b = append(b, alias...)
	return append(b, '"', ':')
}

const hexDigits = "0123456789ABCDEF" // uppercase, as gqlgen writes them

// appendString writes s as a JSON string exactly as gqlgen's String
// marshaller does: quotes, backslashes and control characters escaped,
// everything else as it is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		// Most strings (titles, photo URLs) need no escaping at all: skip
		// eight such bytes at a time.
		for i+8 <= len(s) && !mayNeedEscape(load64(s[i:i+8])) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\', '"':
			b = append(b, '\\', c)
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Bytes repeated across a word, for the tests of mayNeedEscape.
const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	quotes      = ones * '"'
	backslashes = ones * '\\'
	spaces      = ones * 0x20
)

// mayNeedEscape reports whether one of the eight bytes of w is a control
// character, a quote or a backslash: the classic tests for a byte below n,
// (w - n) &^ w, and for a zero byte, applied to w and to w with quotes and
// backslashes turned into zeros. A borrow can flag a byte next to a real
// hit, never when there is none, and the caller then looks byte by byte.
func mayNeedEscape(w uint64) bool {
	q, bs := w^quotes, w^backslashes
	return ((w-spaces)&^w|(q-ones)&^q|(bs-ones)&^bs)&highs != 0
}

// load64 reads 8 bytes as a little-endian word (one load, once inlined).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func appendOptInt(b []byte, n *int32) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*n), 10)
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return scalar.AppendDateTime(b, *t)
}

func appendOptDecimal(b []byte, d *decimal.Decimal) []byte {
	if d == nil {
		return append(b, "null"...)
	}
	return scalar.AppendDecimal(b, *d)
}
