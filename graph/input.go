package graph

import (
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// setFields is the part of CreateSetInput and UpdateSetInput they share,
// so one function validates both. A field is set when the client sent it.
type setFields struct {
	Title                        graphql.Omittable[*string]
	SetNumber, Store, SourceURL  graphql.Omittable[*string]
	Theme, Notes                 graphql.Omittable[*string]
	PieceCount, Quantity         graphql.Omittable[*int32]
	ReleaseDate, PurchaseDate    graphql.Omittable[*time.Time]
	Tags                         graphql.Omittable[[]string]
	IsBuilt                      graphql.Omittable[*bool]
	PurchasePrice, Tax, Shipping graphql.Omittable[*decimal.Decimal]
	WishlistItemID               graphql.Omittable[*uuid.UUID]
}

func createFields(in *model.CreateSetInput) setFields {
	return setFields{
		Title: graphql.OmittableOf(&in.Title), SetNumber: in.SetNumber, Store: in.Store,
		SourceURL: in.SourceURL, Theme: in.Theme, Notes: in.Notes, PieceCount: in.PieceCount,
		Quantity: in.Quantity, ReleaseDate: in.ReleaseDate, PurchaseDate: in.PurchaseDate,
		Tags: in.Tags, IsBuilt: in.IsBuilt, PurchasePrice: in.PurchasePrice, Tax: in.Tax,
		Shipping: in.Shipping, WishlistItemID: in.WishlistItemID,
	}
}

func updateFields(in *model.UpdateSetInput) setFields {
	return setFields{
		Title: in.Title, SetNumber: in.SetNumber, Store: in.Store,
		SourceURL: in.SourceURL, Theme: in.Theme, Notes: in.Notes, PieceCount: in.PieceCount,
		Quantity: in.Quantity, ReleaseDate: in.ReleaseDate, PurchaseDate: in.PurchaseDate,
		Tags: in.Tags, IsBuilt: in.IsBuilt, PurchasePrice: in.PurchasePrice, Tax: in.Tax,
		Shipping: in.Shipping, WishlistItemID: in.WishlistItemID,
	}
}

// patch validates every field that was sent, writes it into p.Set and
// lists its column. Null for a required column is an error. Fields are
// checked in a fixed order, so the first error reported is deterministic.
func (f *setFields) patch(p *store.SetPatch) error {
	s := &p.Set
	var err error
	col := func(name string) { p.Columns = append(p.Columns, name) }
	if v, ok := f.Title.ValueOK(); ok {
		if v == nil {
			return models.Invalid("input.title", "may not be null")
		}
		if s.Title, err = models.Text("input.title", *v, 1, models.MaxTitle); err != nil {
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
		{f.SetNumber, &s.SetNumber, "input.setNumber", "set_number", models.MaxSetNumber},
		{f.Store, &s.Store, "input.store", "store", models.MaxStore},
		{f.Theme, &s.Theme, "input.theme", "theme", models.MaxTheme},
		{f.Notes, &s.Notes, "input.notes", "notes", models.MaxNotes},
	}
	for _, t := range texts {
		if v, ok := t.o.ValueOK(); ok {
			if *t.dst, err = models.OptText(t.name, v, t.max); err != nil {
				return err
			}
			col(t.col)
		}
	}
	if v, ok := f.SourceURL.ValueOK(); ok {
		if s.SourceURL, err = models.OptURL("input.sourceUrl", v); err != nil {
			return err
		}
		col("source_url")
	}
	if err := f.patchNumbers(p); err != nil {
		return err
	}
	return f.patchRest(p)
}

func (f *setFields) patchNumbers(p *store.SetPatch) error {
	s := &p.Set
	if v, ok := f.PieceCount.ValueOK(); ok {
		if v != nil {
			if err := models.IntRange("input.pieceCount", *v, 0, models.MaxPieceCount); err != nil {
				return err
			}
		}
		s.PieceCount = v
		p.Columns = append(p.Columns, "piece_count")
	}
	if v, ok := f.Quantity.ValueOK(); ok {
		if v == nil {
			return models.Invalid("input.quantity", "may not be null")
		}
		if err := models.IntRange("input.quantity", *v, 1, models.MaxQuantity); err != nil {
			return err
		}
		s.Quantity = *v
		p.Columns = append(p.Columns, "quantity")
	}
	money := []struct {
		o    graphql.Omittable[*decimal.Decimal]
		dst  **decimal.Decimal
		name string
		col  string
	}{
		{f.PurchasePrice, &s.PurchasePrice, "input.purchasePrice", "purchase_price"},
		{f.Tax, &s.Tax, "input.tax", "tax"},
		{f.Shipping, &s.Shipping, "input.shipping", "shipping"},
	}
	for _, m := range money {
		if v, ok := m.o.ValueOK(); ok {
			if err := models.Money(m.name, v); err != nil {
				return err
			}
			*m.dst = v
			p.Columns = append(p.Columns, m.col)
		}
	}
	return nil
}

func (f *setFields) patchRest(p *store.SetPatch) error {
	s := &p.Set
	dates := []struct {
		o    graphql.Omittable[*time.Time]
		dst  **time.Time
		name string
		col  string
	}{
		{f.ReleaseDate, &s.ReleaseDate, "input.releaseDate", "release_date"},
		{f.PurchaseDate, &s.PurchaseDate, "input.purchaseDate", "purchase_date"},
	}
	for _, d := range dates {
		if v, ok := d.o.ValueOK(); ok {
			if err := models.Date(d.name, v); err != nil {
				return err
			}
			*d.dst = v
			p.Columns = append(p.Columns, d.col)
		}
	}
	if v, ok := f.Tags.ValueOK(); ok {
		if v == nil {
			return models.Invalid("input.tags", "may not be null (use [] to clear the tags)")
		}
		tags, err := models.Tags("input.tags", v)
		if err != nil {
			return err
		}
		s.Tags = tags
		p.Columns = append(p.Columns, "tags")
	}
	if v, ok := f.IsBuilt.ValueOK(); ok {
		if v == nil {
			return models.Invalid("input.isBuilt", "may not be null")
		}
		s.IsBuilt = *v
		p.Columns = append(p.Columns, "is_built")
	}
	if v, ok := f.WishlistItemID.ValueOK(); ok {
		s.WishlistItemID = v
		p.Columns = append(p.Columns, "wishlist_item_id")
	}
	return nil
}

// newSet validates a CreateSetInput into a set for user and its images.
func newSet(user uuid.UUID, in *model.CreateSetInput) (*models.Set, []*models.SetImage, error) {
	p := store.SetPatch{Set: models.Set{UserID: user, Quantity: 1, Tags: []string{}}}
	f := createFields(in)
	if err := f.patch(&p); err != nil {
		return nil, nil, err
	}
	inputs := in.Images.Value()
	if len(inputs) > models.MaxImages {
		return nil, nil, models.Invalid("input.images", "at most %d images (got %d)", models.MaxImages, len(inputs))
	}
	images := make([]*models.SetImage, len(inputs))
	for i, im := range inputs {
		img, err := newImage("input.images."+itoa(i), im)
		if err != nil {
			return nil, nil, err
		}
		if pos := im.Position.Value(); pos == nil {
			img.Position = int32(i)
		}
		images[i] = img
	}
	return &p.Set, images, nil
}

// newImage validates one SetImageInput; field is its input path.
func newImage(field string, in *model.SetImageInput) (*models.SetImage, error) {
	img := &models.SetImage{}
	var err error
	if img.ImageURL, err = models.URL(field+".imageUrl", in.ImageURL); err != nil {
		return nil, err
	}
	if img.ThumbnailURL, err = models.OptURL(field+".thumbnailUrl", in.ThumbnailURL.Value()); err != nil {
		return nil, err
	}
	if pos := in.Position.Value(); pos != nil {
		if err := models.IntRange(field+".position", *pos, 0, models.MaxPosition); err != nil {
			return nil, err
		}
		img.Position = *pos
	}
	return img, nil
}

// imagePatch validates an UpdateSetImageInput into img and its columns.
func imagePatch(img *models.SetImage, in *model.UpdateSetImageInput) ([]string, error) {
	var cols []string
	if v, ok := in.ImageURL.ValueOK(); ok {
		if v == nil {
			return nil, models.Invalid("input.imageUrl", "may not be null")
		}
		u, err := models.URL("input.imageUrl", *v)
		if err != nil {
			return nil, err
		}
		img.ImageURL = u
		cols = append(cols, "image_url")
	}
	if v, ok := in.ThumbnailURL.ValueOK(); ok {
		u, err := models.OptURL("input.thumbnailUrl", v)
		if err != nil {
			return nil, err
		}
		img.ThumbnailURL = u
		cols = append(cols, "thumbnail_url")
	}
	return cols, nil
}
