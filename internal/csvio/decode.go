package csvio

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/models"
)

// ColumnError is a cell that could not be read: which column, and why.
type ColumnError struct {
	Column string
	Err    error
}

// Error names the column and the reason.
func (e *ColumnError) Error() string { return fmt.Sprintf("column %s: %v", e.Column, e.Err) }

// Unwrap returns the reason.
func (e *ColumnError) Unwrap() error { return e.Err }

// Decoder reads rows of our CSV by their header: columns are matched by
// name, case-insensitively and with surrounding spaces ignored, in any
// order; unknown ones are ignored (SPEC §9).
type Decoder struct {
	// at is where each of Columns is in a record; -1 when absent.
	at []int
}

// NewDecoder returns a Decoder for files with header. The header must
// have a title or a setNumber column (a row with no title is titled by its
// set number).
func NewDecoder(header []string) (*Decoder, error) {
	d := &Decoder{at: make([]int, len(Columns))}
	for i := range d.at {
		d.at[i] = -1
	}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		for j, c := range Columns {
			if strings.EqualFold(h, c) && d.at[j] < 0 {
				d.at[j] = i
			}
		}
	}
	if d.at[1] < 0 && d.at[2] < 0 {
		return nil, fmt.Errorf("%w: the header has neither a title nor a setNumber column", ErrNotCSV)
	}
	return d, nil
}

// cell returns the undefused cell of column j of rec ("" when the column
// or the cell is missing).
func (d *Decoder) cell(rec []string, j int) string {
	i := d.at[j]
	if i < 0 || i >= len(rec) {
		return ""
	}
	return Undefuse(rec[i])
}

// Decode reads one record. It checks only that each cell holds a value of
// its column's type; the input rules (SPEC §5) are the caller's to apply,
// as for createSet. Empty cells are nulls, or the column's default for
// the columns that have one (quantity 1, isBuilt false, no tags). An
// empty id, createdAt or updatedAt stays zero: the database assigns them.
// totalCost is derived and not read.
func (d *Decoder) Decode(rec []string) (*Row, error) {
	r := &Row{}
	s := &r.Set
	s.Quantity = 1
	var err error
	field := func(j int, parse func(string) error) {
		c := d.cell(rec, j)
		if err != nil || c == "" {
			return
		}
		if e := parse(c); e != nil {
			err = &ColumnError{Column: Columns[j], Err: e}
		}
	}
	str := func(dst **string) func(string) error {
		return func(c string) error { *dst = &c; return nil }
	}
	field(0, func(c string) (e error) { s.ID, e = uuid.Parse(c); return e })
	field(1, func(c string) error { s.Title = c; return nil })
	field(2, str(&s.SetNumber))
	field(3, str(&s.CanonicalSetNumber))
	field(4, str(&s.Store))
	field(5, str(&s.SourceURL))
	field(6, func(c string) (e error) { s.PieceCount, e = parseInt(c); return e })
	field(7, func(c string) (e error) { s.ReleaseDate, e = parseTime(c); return e })
	field(8, str(&s.Theme))
	field(9, func(c string) (e error) { s.Tags, e = parseList(c); return e })
	field(10, str(&s.Notes))
	field(11, func(c string) (e error) {
		if s.IsBuilt, e = strconv.ParseBool(c); e != nil {
			return fmt.Errorf("%q is not true or false", c)
		}
		return nil
	})
	field(12, func(c string) error {
		n, e := parseInt(c)
		if e == nil {
			s.Quantity = *n
		}
		return e
	})
	field(13, func(c string) (e error) { s.PurchasePrice, e = parseMoney(c); return e })
	field(14, func(c string) (e error) { s.Tax, e = parseMoney(c); return e })
	field(15, func(c string) (e error) { s.Shipping, e = parseMoney(c); return e })
	field(17, func(c string) (e error) { s.PurchaseDate, e = parseTime(c); return e })
	field(18, func(c string) error {
		id, e := uuid.Parse(c)
		s.WishlistItemID = &id
		return e
	})
	field(19, func(c string) (e error) { s.CreatedAt, e = parseTimeValue(c); return e })
	field(20, func(c string) (e error) { s.UpdatedAt, e = parseTimeValue(c); return e })
	if err != nil {
		return nil, err
	}
	if s.Tags == nil {
		s.Tags = []string{}
	}
	if err := d.images(r, rec); err != nil {
		return nil, err
	}
	return r, nil
}

// images reads the images and thumbnails columns into r.Images.
func (d *Decoder) images(r *Row, rec []string) error {
	urls, err := parseList(d.cell(rec, 21))
	if err != nil {
		return &ColumnError{Column: "images", Err: err}
	}
	thumbs, err := parseList(d.cell(rec, 22))
	if err != nil {
		return &ColumnError{Column: "thumbnails", Err: err}
	}
	if len(thumbs) > len(urls) {
		return &ColumnError{Column: "thumbnails", Err: fmt.Errorf("%d thumbnails for %d images", len(thumbs), len(urls))}
	}
	for i, u := range urls {
		img := models.SetImage{ImageURL: u, Position: int32(i)}
		if i < len(thumbs) && thumbs[i] != "" {
			img.ThumbnailURL = &thumbs[i]
		}
		r.Images = append(r.Images, img)
	}
	return nil
}

func parseInt(c string) (*int32, error) {
	n, err := strconv.ParseInt(c, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%q is not a whole number", c)
	}
	v := int32(n)
	return &v, nil
}

func parseTimeValue(c string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, c)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date and time", c)
	}
	return t.UTC(), nil
}

func parseTime(c string) (*time.Time, error) {
	t, err := parseTimeValue(c)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// parseMoney reads an amount exactly (never through a float).
func parseMoney(c string) (*decimal.Decimal, error) {
	d, err := decimal.NewFromString(c)
	if err != nil {
		return nil, fmt.Errorf("%q is not an amount such as 129.99", c)
	}
	return &d, nil
}

// parseList reads a cell written by list.
func parseList(c string) ([]string, error) {
	if c == "" {
		return nil, nil
	}
	r := NewReader(strings.NewReader(c), ',')
	values, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("not a comma-separated list: %w", err)
	}
	if _, err := r.Read(); err != io.EOF {
		return nil, fmt.Errorf("not a comma-separated list: more than one line outside quotes")
	}
	return values, nil
}
