package model

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/shopspring/decimal"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/brickgallery/sets/graph/loader"
	"github.com/brickgallery/sets/graph/scalar"
	"github.com/brickgallery/sets/models"
)

// Set is the GraphQL Set. It writes its own JSON instead of going through
// gqlgen's per-field execution, which allocates a field context, a closure
// and a boxed value for every one of a gallery page's ~1,750 leaf values and
// costs more CPU than the database does (README "Performance"). It still
// honours everything the client can ask of an object: the selection set
// with aliases, fragments, @skip/@include and __typename, as gqlgen's
// CollectFields resolves them. The schema's validation, complexity and
// depth limits run before it, unchanged.
type Set struct{ *models.Set }

// NewSet wraps s; nil stays nil.
func NewSet(s *models.Set) *Set {
	if s == nil {
		return nil
	}
	return &Set{s}
}

// NewSets wraps each of sets.
func NewSets(sets []*models.Set) []*Set {
	out := make([]*Set, len(sets))
	for i, s := range sets {
		out[i] = &Set{s}
	}
	return out
}

// Images returns the set's images in display order, through the request's
// dataloader: one statement for every set of a page.
func (s Set) Images(ctx context.Context) ([]*models.SetImage, error) {
	return loader.Images(ctx, s.ID)
}

// UnmarshalGQLContext exists because gqlgen binds marshalling types in
// pairs; Set is an output type and never arrives as input.
func (*Set) UnmarshalGQLContext(context.Context, any) error {
	return errors.New("Set is an output type")
}

// selections returns the selection set under which this value is written:
// that of the field it is the value of, through list indexes.
func selections(ctx context.Context) ast.SelectionSet {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Field.Field != nil {
			return fc.Field.Selections
		}
	}
	return nil
}

// MarshalGQLContext writes the set's selected fields.
func (s Set) MarshalGQLContext(ctx context.Context, w io.Writer) error {
	oc := graphql.GetOperationContext(ctx)
	fields := graphql.CollectFields(oc, selections(ctx), []string{"Set"})
	var images []*models.SetImage
	for _, f := range fields {
		if f.Name == "images" {
			var err error
			if images, err = s.Images(ctx); err != nil {
				return err
			}
			break
		}
	}
	var buf bytes.Buffer
	buf.Grow(1024)
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeKey(&buf, f.Alias)
		s.writeField(&buf, f, oc, images)
	}
	buf.WriteByte('}')
	_, err := w.Write(buf.Bytes())
	return err
}

func (s Set) writeField(w *bytes.Buffer, f graphql.CollectedField, oc *graphql.OperationContext, images []*models.SetImage) {
	var m graphql.Marshaler
	switch f.Name {
	case "__typename":
		m = graphql.MarshalString("Set")
	case "id":
		m = scalar.MarshalUUID(s.ID)
	case "title":
		m = graphql.MarshalString(s.Title)
	case "setNumber":
		m = optString(s.SetNumber)
	case "store":
		m = optString(s.Store)
	case "sourceUrl":
		m = optString(s.SourceURL)
	case "pieceCount":
		m = optInt(s.PieceCount)
	case "releaseDate":
		m = optTime(s.ReleaseDate)
	case "theme":
		m = optString(s.Theme)
	case "tags":
		w.WriteByte('[')
		for i, t := range s.Tags {
			if i > 0 {
				w.WriteByte(',')
			}
			graphql.MarshalString(t).MarshalGQL(w)
		}
		w.WriteByte(']')
		return
	case "notes":
		m = optString(s.Notes)
	case "isBuilt":
		m = graphql.MarshalBoolean(s.IsBuilt)
	case "quantity":
		m = graphql.MarshalInt32(s.Quantity)
	case "purchasePrice":
		m = optDecimal(s.PurchasePrice)
	case "tax":
		m = optDecimal(s.Tax)
	case "shipping":
		m = optDecimal(s.Shipping)
	case "totalCost":
		m = optDecimal(s.TotalCost())
	case "purchaseDate":
		m = optTime(s.PurchaseDate)
	case "wishlistItemId":
		m = graphql.Null
		if s.WishlistItemID != nil {
			m = scalar.MarshalUUID(*s.WishlistItemID)
		}
	case "createdAt":
		m = scalar.MarshalDateTime(s.CreatedAt)
	case "updatedAt":
		m = scalar.MarshalDateTime(s.UpdatedAt)
	case "images":
		writeImages(w, graphql.CollectFields(oc, f.Selections, []string{"SetImage"}), images)
		return
	default:
		// Validation admits only the schema's fields; TestSetFieldsCovered
		// keeps this switch in step with it.
		m = graphql.Null
	}
	m.MarshalGQL(w)
}

func writeImages(w *bytes.Buffer, fields []graphql.CollectedField, images []*models.SetImage) {
	w.WriteByte('[')
	for i, img := range images {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('{')
		for j, f := range fields {
			if j > 0 {
				w.WriteByte(',')
			}
			writeKey(w, f.Alias)
			var m graphql.Marshaler
			switch f.Name {
			case "__typename":
				m = graphql.MarshalString("SetImage")
			case "id":
				m = scalar.MarshalUUID(img.ID)
			case "setId":
				m = scalar.MarshalUUID(img.SetID)
			case "imageUrl":
				m = graphql.MarshalString(img.ImageURL)
			case "thumbnailUrl":
				m = optString(img.ThumbnailURL)
			case "position":
				m = graphql.MarshalInt32(img.Position)
			case "createdAt":
				m = scalar.MarshalDateTime(img.CreatedAt)
			default:
				m = graphql.Null
			}
			m.MarshalGQL(w)
		}
		w.WriteByte('}')
	}
	w.WriteByte(']')
}

// writeKey writes an alias as an object key; GraphQL names need no escaping.
func writeKey(w *bytes.Buffer, alias string) {
	w.WriteByte('"')
	w.WriteString(alias)
	w.WriteString(`":`)
}

func optString(s *string) graphql.Marshaler {
	if s == nil {
		return graphql.Null
	}
	return graphql.MarshalString(*s)
}

func optInt(n *int32) graphql.Marshaler {
	if n == nil {
		return graphql.Null
	}
	return graphql.MarshalInt32(*n)
}

func optTime(t *time.Time) graphql.Marshaler {
	if t == nil {
		return graphql.Null
	}
	return scalar.MarshalDateTime(*t)
}

func optDecimal(d *decimal.Decimal) graphql.Marshaler {
	if d == nil {
		return graphql.Null
	}
	return scalar.MarshalDecimal(*d)
}
