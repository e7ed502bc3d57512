package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/csvio"
)

// header is a CSV file's header row: where each column is, by its name
// lowercased with surrounding spaces dropped (SPEC §9), and its spelling.
type header struct {
	at    map[string]int
	names []string
}

func newHeader(rec []string) header {
	h := header{at: make(map[string]int, len(rec)), names: rec}
	for i, name := range rec {
		k := strings.ToLower(strings.TrimSpace(name))
		if _, dup := h.at[k]; !dup && k != "" {
			h.at[k] = i
		}
	}
	return h
}

func (h header) has(names ...string) bool {
	for _, n := range names {
		if _, ok := h.at[n]; !ok {
			return false
		}
	}
	return true
}

// column returns the first of names the header has, as (index, spelling);
// -1 when it has none.
func (h header) column(names ...string) (int, string) {
	for _, n := range names {
		if i, ok := h.at[n]; ok {
			return i, strings.TrimSpace(h.names[i])
		}
	}
	return -1, ""
}

// detect recognises the format of a header row. Our own CSV's camelCase
// names (setNumber, isBuilt) are spelled by none of the others.
func detect(h header) Format {
	switch {
	case h.has("number", "variant"):
		return Brickset
	case h.has("number", "setname"):
		return BrickEconomy
	case h.has("set number") || h.has("set_num"):
		return Rebrickable
	case h.has("setnumber") || h.has("title", "isbuilt"):
		return SetsCSV
	}
	return ""
}

// newCSVReader reads the header row and returns the file's format and a
// reader of its records.
func newCSVReader(br *bufio.Reader, want Format) (Format, func() (*Row, error), error) {
	head, _ := br.Peek(64 << 10)
	ll := &lineLimit{r: br, line: 1}
	r := csvio.NewReader(ll, separator(head))
	rec, err := r.Read()
	if err != nil {
		if errors.Is(err, errLineTooLong) {
			return "", nil, &FileError{fmt.Sprintf("the first line is longer than %d MiB: not a CSV header row", MaxLine>>20)}
		}
		return "", nil, &FileError{fmt.Sprintf("the header row is not CSV: %v", err)}
	}
	h := newHeader(rec)
	got := detect(h)
	switch {
	case want == Auto && got == "":
		return "", nil, &FileError{fmt.Sprintf("the header row matches none of the formats we read "+
			"(our CSV, Rebrickable, Brickset, BrickEconomy); it has the columns %s", quoteList(rec, 8))}
	case want == Auto:
		want = got
	case want == SetsCSV && got != SetsCSV:
		return "", nil, &FileError{"the header row is not our CSV's: it has no setNumber column, or no title and isBuilt"}
	case want == Rebrickable && got != Rebrickable:
		return "", nil, &FileError{`the header row is not a Rebrickable CSV's: it has no "Set Number" or "set_num" column`}
	case want == Brickset && got != Brickset:
		return "", nil, &FileError{"the header row is not a Brickset CSV's: it has no Number and Variant columns"}
	case want == BrickEconomy && got != BrickEconomy:
		return "", nil, &FileError{"the header row is not a BrickEconomy CSV's: it has no Number and SetName columns"}
	}
	var decode func(line int, rec []string) (*Row, error)
	switch want {
	case SetsCSV:
		d, err := csvio.NewDecoder(rec)
		if err != nil {
			return "", nil, &FileError{err.Error()}
		}
		decode = oursDecoder(d)
	case Rebrickable:
		decode = rebrickableDecoder(h)
	case Brickset:
		decode = bricksetDecoder(h)
	case BrickEconomy:
		decode = brickEconomyDecoder(h)
	}
	rows := 0
	next := func() (*Row, error) {
		rec, err := r.Read()
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			if rows == 0 {
				return nil, &FileError{"the file has a header row and no rows"}
			}
			return nil, io.EOF
		case errors.Is(err, errLineTooLong):
			return nil, &RowError{Line: ll.line, Message: fmt.Sprintf("the line is longer than %d MiB", MaxLine>>20), Fatal: true}
		case errors.Is(err, csvio.ErrNotCSV):
			return nil, &RowError{Line: ll.line, Message: err.Error(), Fatal: true}
		case errors.As(err, &pe):
			return nil, &RowError{Line: pe.StartLine, Message: "not CSV: " + pe.Err.Error()}
		case err != nil:
			return nil, fmt.Errorf("read the file: %w", err)
		}
		rows++
		line := r.Line() // only for a record read whole: FieldPos panics otherwise
		for i, cell := range rec {
			if !utf8.ValidString(cell) {
				return nil, &RowError{Line: line, Column: cellName(rec, h, i), Message: "is not valid UTF-8 (save the file as CSV UTF-8)"}
			}
		}
		return decode(line, rec)
	}
	return want, next, nil
}

func cellName(rec []string, h header, i int) string {
	if i < len(h.names) {
		return strings.TrimSpace(h.names[i])
	}
	return fmt.Sprintf("#%d", i+1)
}

// separator is the header line's: a semicolon when it has more of them
// than commas outside quotes (European spreadsheets), else a comma.
func separator(head []byte) rune {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	commas, semicolons, quoted := 0, 0, false
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			commas++
		case c == ';':
			semicolons++
		}
	}
	if semicolons > commas {
		return ';'
	}
	return ','
}

func quoteList(names []string, max int) string {
	var b strings.Builder
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(strings.TrimSpace(n)))
	}
	return b.String()
}

var errLineTooLong = errors.New("line too long")

// lineLimit fails a read once a line grows past MaxLine, and counts lines
// so that the failure can say where.
type lineLimit struct {
	r    io.Reader
	run  int // bytes since the last newline
	line int // of the byte read last
}

func (l *lineLimit) Read(b []byte) (int, error) {
	n, err := l.r.Read(b)
	rest := b[:n]
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			l.run += len(rest)
			break
		}
		l.run += i
		if l.run > MaxLine {
			return 0, errLineTooLong
		}
		l.run, l.line = 0, l.line+1
		rest = rest[i+1:]
	}
	if l.run > MaxLine {
		return 0, errLineTooLong
	}
	return n, err
}

// cells reads a record's cells by column, and builds the row's map of
// input fields to columns as it goes.
type cells struct {
	rec []string
	h   header
	row *Row
}

// get returns the trimmed cell of the first of names the header has, and
// records that it fills field.
func (c *cells) get(field string, names ...string) string {
	i, name := c.h.column(names...)
	if i < 0 || i >= len(c.rec) {
		return ""
	}
	if field != "" {
		c.row.columns[field] = name
	}
	return strings.TrimSpace(c.rec[i])
}

// fail returns a RowError on the column of names.
func (c *cells) fail(msg string, names ...string) error {
	_, name := c.h.column(names...)
	return &RowError{Line: c.row.Line, Column: name, Message: msg}
}

func newRow(line int) *Row {
	return &Row{Line: line, columns: map[string]string{}}
}

func optString(s string) graphql.Omittable[*string] {
	if s == "" {
		return graphql.Omittable[*string]{}
	}
	return graphql.OmittableOf(&s)
}

// titleOr sets the row's title to title, or its set number when the file
// gives none (SPEC §9).
func titleOr(row *Row, title, titleCol, setNumber, setNumberCol string) {
	if title == "" && setNumber != "" {
		title, titleCol = setNumber, setNumberCol
	}
	row.Set.Title = title
	if titleCol != "" {
		row.columns["input.title"] = titleCol
	}
}

func parseCount(s string) (*int32, error) {
	s = strings.ReplaceAll(s, ",", "")
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%q is not a whole number", s)
	}
	v := int32(n)
	return &v, nil
}

// parseYear reads a year as 1 January of it, UTC.
func parseYear(s string) (*time.Time, error) {
	y, err := strconv.Atoi(s)
	if err != nil || y < 1 || y > 9999 {
		return nil, fmt.Errorf("%q is not a year", s)
	}
	t := time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC)
	return &t, nil
}

// parseDate reads MM/DD/YYYY (BrickEconomy's) or YYYY-MM-DD, as midnight
// UTC.
func parseDate(s string) (*time.Time, error) {
	for _, layout := range []string{"1/2/2006", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return &t, nil
		}
	}
	return nil, fmt.Errorf("%q is not a date such as 12/31/2024 or 2024-12-31", s)
}

// parseAmount reads an amount as BrickEconomy writes it: a currency sign
// anywhere ("€1,299.99", "$40.08", "12,50 €"), thousands separators. With
// both a comma and a point, the last one is the decimal separator; a lone
// comma is one unless three digits follow it ("1,299").
func parseAmount(s string) (*decimal.Decimal, error) {
	clean := strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Sc, r) || unicode.IsSpace(r) || r == '\u00a0' {
			return -1
		}
		return r
	}, s)
	// Currency codes written out: "USD 40.08", "40.08 EUR".
	clean = strings.TrimFunc(clean, func(r rune) bool { return r >= 'A' && r <= 'Z' })
	comma, point := strings.LastIndexByte(clean, ','), strings.LastIndexByte(clean, '.')
	switch {
	case comma >= 0 && point >= 0 && comma > point: // 1.299,99
		clean = strings.ReplaceAll(clean[:comma], ".", "") + "." + clean[comma+1:]
	case comma >= 0 && point >= 0: // 1,299.99
		clean = strings.ReplaceAll(clean, ",", "")
	case comma >= 0 && len(clean)-comma-1 == 3: // 1,299
		clean = strings.ReplaceAll(clean, ",", "")
	case comma >= 0: // 12,50
		clean = strings.ReplaceAll(clean[:comma], ",", "") + "." + clean[comma+1:]
	}
	d, err := decimal.NewFromString(clean)
	if err != nil || clean == "" {
		return nil, fmt.Errorf("%q is not an amount such as 129.99 or €1,299.99", s)
	}
	return &d, nil
}

// parseFlag reads a spreadsheet's yes or no.
func parseFlag(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "y", "x":
		return true, nil
	case "", "0", "false", "no", "n":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no", s)
}

// oursDecoder reads our own CSV (csvio's columns) into createSet's input.
func oursDecoder(d *csvio.Decoder) func(int, []string) (*Row, error) {
	return func(line int, rec []string) (*Row, error) {
		r, err := d.Decode(rec)
		var ce *csvio.ColumnError
		if errors.As(err, &ce) {
			return nil, &RowError{Line: line, Column: ce.Column, Message: ce.Err.Error()}
		}
		if err != nil {
			return nil, &RowError{Line: line, Message: err.Error()}
		}
		row := newRow(line)
		for _, c := range csvio.Columns {
			row.columns["input."+c] = c
		}
		s := &r.Set
		in := &row.Set
		titleOr(row, s.Title, "title", deref(s.SetNumber), "setNumber")
		in.SetNumber, in.Store, in.SourceURL = omit(s.SetNumber), omit(s.Store), omit(s.SourceURL)
		in.Theme, in.Notes = omit(s.Theme), omit(s.Notes)
		in.PieceCount, in.Quantity = omit(s.PieceCount), graphql.OmittableOf(&s.Quantity)
		in.ReleaseDate, in.PurchaseDate = omit(s.ReleaseDate), omit(s.PurchaseDate)
		in.Tags, in.IsBuilt = graphql.OmittableOf(s.Tags), graphql.OmittableOf(&s.IsBuilt)
		in.PurchasePrice, in.Tax, in.Shipping = omit(s.PurchasePrice), omit(s.Tax), omit(s.Shipping)
		if len(r.Images) > 0 {
			images := make([]*model.SetImageInput, len(r.Images))
			for i := range r.Images {
				img := &r.Images[i]
				images[i] = &model.SetImageInput{ImageURL: img.ImageURL,
					ThumbnailURL: omit(img.ThumbnailURL), Position: graphql.OmittableOf(&img.Position)}
			}
			in.Images = graphql.OmittableOf(images)
		}
		row.ID, row.CreatedAt, row.UpdatedAt, row.WishlistItemID = s.ID, s.CreatedAt, s.UpdatedAt, s.WishlistItemID
		return row, nil
	}
}

func omit[T any](v *T) graphql.Omittable[*T] {
	if v == nil {
		return graphql.Omittable[*T]{}
	}
	return graphql.OmittableOf(v)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rebrickableDecoder reads a Rebrickable set list: a set number and a
// quantity.
func rebrickableDecoder(h header) func(int, []string) (*Row, error) {
	return func(line int, rec []string) (*Row, error) {
		row := newRow(line)
		c := &cells{rec: rec, h: h, row: row}
		number := c.get("input.setNumber", "set number", "set_num")
		_, numberCol := h.column("set number", "set_num")
		titleOr(row, "", "", number, numberCol)
		row.Set.SetNumber = optString(number)
		if q := c.get("input.quantity", "quantity"); q != "" {
			n, err := parseCount(q)
			if err != nil {
				return nil, c.fail(err.Error(), "quantity")
			}
			row.Set.Quantity = graphql.OmittableOf(n)
		}
		return row, nil
	}
}

// bricksetDecoder reads a Brickset collection export.
func bricksetDecoder(h header) func(int, []string) (*Row, error) {
	return func(line int, rec []string) (*Row, error) {
		row := newRow(line)
		c := &cells{rec: rec, h: h, row: row}
		number, variant := c.get("input.setNumber", "number"), c.get("", "variant")
		if number != "" && variant != "" {
			number += "-" + variant
		}
		_, numberCol := h.column("number")
		titleOr(row, c.get("", "name"), "Name", number, numberCol)
		in := &row.Set
		in.SetNumber = optString(number)
		in.Theme, in.Notes = optString(c.get("input.theme", "theme")), optString(c.get("input.notes", "notes"))
		if sub := c.get("input.tags", "subtheme"); sub != "" {
			in.Tags = graphql.OmittableOf([]string{sub})
		}
		if y := c.get("input.releaseDate", "year"); y != "" {
			t, err := parseYear(y)
			if err != nil {
				return nil, c.fail(err.Error(), "year")
			}
			in.ReleaseDate = graphql.OmittableOf(t)
		}
		if p := c.get("input.pieceCount", "pieces"); p != "" {
			n, err := parseCount(p)
			if err != nil {
				return nil, c.fail(err.Error(), "pieces")
			}
			in.PieceCount = graphql.OmittableOf(n)
		}
		owned, err := parseFlag(c.get("", "owned"))
		if err != nil {
			return nil, c.fail(err.Error(), "owned")
		}
		wanted, err := parseFlag(c.get("", "wanted"))
		if err != nil {
			return nil, c.fail(err.Error(), "wanted")
		}
		_, hasOwned := h.at["owned"]
		row.Wanted = hasOwned && !owned && wanted
		if q := c.get("input.quantity", "qtyowned"); q != "" && !row.Wanted {
			n, err := parseCount(q)
			if err != nil {
				return nil, c.fail(err.Error(), "qtyowned")
			}
			in.Quantity = graphql.OmittableOf(n)
		}
		return row, nil
	}
}

// brickEconomyDecoder reads a BrickEconomy collection export.
func brickEconomyDecoder(h header) func(int, []string) (*Row, error) {
	return func(line int, rec []string) (*Row, error) {
		row := newRow(line)
		c := &cells{rec: rec, h: h, row: row}
		number := c.get("input.setNumber", "number")
		_, numberCol := h.column("number")
		titleOr(row, c.get("", "setname"), "SetName", number, numberCol)
		in := &row.Set
		in.SetNumber = optString(number)
		in.Theme, in.Notes = optString(c.get("input.theme", "theme")), optString(c.get("input.notes", "notes"))
		var tags []string
		for _, col := range []string{"subtheme", "condition"} {
			if t := c.get("input.tags", col); t != "" {
				tags = append(tags, t)
			}
		}
		if tags != nil {
			in.Tags = graphql.OmittableOf(tags)
		}
		if y := c.get("input.releaseDate", "year"); y != "" {
			t, err := parseYear(y)
			if err != nil {
				return nil, c.fail(err.Error(), "year")
			}
			in.ReleaseDate = graphql.OmittableOf(t)
		}
		if p := c.get("input.purchasePrice", "paid"); p != "" {
			d, err := parseAmount(p)
			if err != nil {
				return nil, c.fail(err.Error(), "paid")
			}
			in.PurchasePrice = graphql.OmittableOf(d)
		}
		if d := c.get("input.purchaseDate", "date"); d != "" {
			t, err := parseDate(d)
			if err != nil {
				return nil, c.fail(err.Error(), "date")
			}
			in.PurchaseDate = graphql.OmittableOf(t)
		}
		return row, nil
	}
}
