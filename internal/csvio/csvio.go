// Package csvio turns sets into CSV rows and back: the columns of our own
// export (SETS_CSV, SPEC §9), how each value is written in a cell, and the
// defusing of cells that a spreadsheet would run as a formula. The export
// writes with it and the import reads with it, so that a file exported,
// imported and exported again comes out identical.
package csvio

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/models"
)

// Columns is the header of our CSV: the GraphQL names of the Set fields, in
// the schema's order, then the images. id, createdAt and updatedAt are kept
// so that an entry's history survives a move to another instance;
// canonicalSetNumber and totalCost are derived, written for the reader's
// sake and recomputed on import. images holds the image URLs in display
// order and thumbnails their thumbnail URLs at the same places.
var Columns = []string{
	"id", "title", "setNumber", "canonicalSetNumber", "store", "sourceUrl", "pieceCount",
	"releaseDate", "theme", "tags", "notes", "isBuilt", "quantity", "purchasePrice", "tax",
	"shipping", "totalCost", "purchaseDate", "wishlistItemId", "createdAt", "updatedAt",
	"images", "thumbnails",
}

// Row is one set of a file and its images (only their URLs and order
// travel: image ids and positions are the instance's own).
type Row struct {
	Set    models.Set
	Images []models.SetImage
}

// Encode returns the cells of s and its images, in Columns' order,
// already defused.
func Encode(s *models.Set, images []*models.SetImage) []string {
	urls := make([]string, len(images))
	thumbs := make([]string, len(images))
	for i, img := range images {
		urls[i], thumbs[i] = img.ImageURL, deref(img.ThumbnailURL)
	}
	cells := []string{
		s.ID.String(), s.Title, deref(s.SetNumber), deref(s.CanonicalSetNumber), deref(s.Store),
		deref(s.SourceURL), optInt(s.PieceCount), optTime(s.ReleaseDate), deref(s.Theme),
		list(s.Tags), deref(s.Notes), strconv.FormatBool(s.IsBuilt),
		strconv.FormatInt(int64(s.Quantity), 10), optMoney(s.PurchasePrice), optMoney(s.Tax),
		optMoney(s.Shipping), optMoney(s.TotalCost()), optTime(s.PurchaseDate), optUUID(s.WishlistItemID),
		formatTime(s.CreatedAt), formatTime(s.UpdatedAt), list(urls), thumbnails(thumbs),
	}
	for i, c := range cells {
		cells[i] = Defuse(c)
	}
	return cells
}

// Defuse makes a cell safe to open in a spreadsheet: one that starts with
// a character a spreadsheet reads as the start of a formula (=, +, -, @,
// tab, CR) gets a leading apostrophe, which spreadsheets show as "text
// follows" and do not run. A cell that really starts with an apostrophe
// gets one more, so that Undefuse, which strips exactly one, gives every
// cell back as it was.
func Defuse(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		return "'" + cell
	}
	return cell
}

// Undefuse reverses Defuse.
func Undefuse(cell string) string {
	return strings.TrimPrefix(cell, "'")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func optInt(n *int32) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(int64(*n), 10)
}

// formatTime writes t as the API does: RFC 3339 in UTC, with as many
// fractional digits as it has (the database keeps microseconds, which a
// round trip must not lose).
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

// optMoney writes an amount exactly with two decimals, as the API's
// Decimal does.
func optMoney(d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return d.StringFixed(2)
}

func optUUID(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}

// list writes several values in one cell as a CSV record of their own
// (comma separated, RFC 4180 quoting), which keeps any value intact
// (commas, quotes, newlines) and reads naturally when none needs quoting:
// "Star Wars,UCS". No value of a list is empty (tags have 1–50
// characters, URLs are absolute), so an empty cell is the empty list.
func list(values []string) string {
	if len(values) == 0 {
		return ""
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	// Cannot fail: a bytes.Buffer does not.
	_ = w.Write(values)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// thumbnails writes the thumbnail URLs as a list at their images' places,
// a missing thumbnail as an empty value (thumbnails are never empty
// strings: the API stores an empty one as null). Trailing missing ones are
// left out, so a set whose images have no thumbnails has an empty cell.
func thumbnails(thumbs []string) string {
	n := len(thumbs)
	for n > 0 && thumbs[n-1] == "" {
		n--
	}
	return list(thumbs[:n])
}

// ErrNotCSV is returned for input that is not CSV at all.
var ErrNotCSV = errors.New("not a CSV file")

// Reader reads CSV records from a file, RFC 4180 quoting, with every
// carriage return inside a quoted field kept as it was: encoding/csv reads
// a CR LF inside a quoted field as a bare LF, which would change notes
// written on Windows on their way back.
type Reader struct {
	r *csv.Reader
}

// NewReader returns a Reader of r whose fields are separated by comma.
func NewReader(r io.Reader, comma rune) *Reader {
	cr := csv.NewReader(&protectCR{r: r})
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // the importer reports short rows itself, by line
	return &Reader{r: cr}
}

// Read returns the next record, and io.EOF after the last.
func (r *Reader) Read() ([]string, error) {
	rec, err := r.r.Read()
	for i, f := range rec {
		if strings.IndexByte(f, 0) >= 0 {
			rec[i] = strings.ReplaceAll(f, "\x00", "\r")
		}
	}
	return rec, err
}

// Line returns the line on which the record last read starts.
func (r *Reader) Line() int {
	line, _ := r.r.FieldPos(0)
	return line
}

// protectCR hides carriage returns inside quoted fields from encoding/csv
// as NUL bytes, which Reader.Read turns back: NUL can stand in for them
// because no value may hold one (SPEC §5), and a NUL met in the input is
// refused. A quote toggles being inside a quoted field, and an escaped
// quote ("") toggles it twice, so counting quotes is enough.
type protectCR struct {
	r      io.Reader
	quoted bool
}

func (p *protectCR) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	for i, c := range b[:n] {
		switch {
		case c == 0:
			return i, fmt.Errorf("%w: it contains a NUL byte", ErrNotCSV)
		case c == '"':
			p.quoted = !p.quoted
		case c == '\r' && p.quoted:
			b[i] = 0
		}
	}
	return n, err
}
