// Package importer reads the files a collector brings from elsewhere (SPEC
// §9): our own CSV, Rebrickable's, Brickset's and BrickEconomy's CSV
// exports and BrickLink's XML. It turns each record into the input
// createSet takes, with the record's line and, for each input field, the
// file's column that held it; validating that input is the caller's, with
// the same code as createSet. It reads as it goes, so a file of any size
// costs the memory of one record.
package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/graph/model"
)

// Format is a kind of file.
type Format string

// The formats of SPEC §9, named as the ImportFormat enum.
const (
	Auto         Format = "AUTO"
	SetsCSV      Format = "SETS_CSV"
	Rebrickable  Format = "REBRICKABLE_CSV"
	Brickset     Format = "BRICKSET_CSV"
	BrickEconomy Format = "BRICKECONOMY_CSV"
	BrickLink    Format = "BRICKLINK_XML"
)

// Row is one record of a file.
type Row struct {
	// Line is where the record starts: 1 is a CSV file's header; for XML,
	// the line of the element.
	Line int
	// Set is the record as createSet would receive it.
	Set model.CreateSetInput
	// Wanted marks a record the file says is wanted, not owned (Brickset's
	// Owned false and Wanted true).
	Wanted bool
	// NotASet marks a record that is not a set (BrickLink parts and
	// minifigures): it is skipped, and its line reported.
	NotASet bool
	// ID, CreatedAt and UpdatedAt are what our own CSV carries; zero
	// otherwise.
	ID                   uuid.UUID
	CreatedAt, UpdatedAt time.Time
	// WishlistItemID is our own CSV's link to a wishlist item.
	WishlistItemID *uuid.UUID
	// columns names, by input field ("input.title"), the file's column.
	columns map[string]string
}

// Column returns the file's column that held the input field named in a
// validation error ("input.title", "input.images.2.imageUrl"); "" when no
// single column did.
func (r *Row) Column(field string) string {
	for f := field; f != ""; {
		if c, ok := r.columns[f]; ok {
			return c
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return ""
}

// FileError says the file is none of the formats, or not the one asked for.
type FileError struct{ Message string }

func (e *FileError) Error() string { return e.Message }

// RowError is a record that could not be read. After a fatal one (the rest
// of the file cannot be told apart: a line past the limit, broken XML) the
// reader has nothing more to give.
type RowError struct {
	Line    int
	Column  string // "" when the record as a whole is at fault
	Message string
	Fatal   bool
}

func (e *RowError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("line %d, column %s: %s", e.Line, e.Column, e.Message)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Message)
}

// MaxLine is the longest line a CSV file may have: a record's cells are
// bounded (10,000 characters of notes, 50 image URLs of 2,048), and a
// "line" of megabytes is a file that is not CSV.
const MaxLine = 1 << 20

// maxDepth bounds XML nesting: INVENTORY, ITEM and a field are three.
const maxDepth = 8

// Reader reads the records of one file.
type Reader struct {
	format Format
	next   func() (*Row, error)
	done   bool
}

// NewReader reads the start of r to find its format (for Auto) or check
// that it is format, and returns a reader of its records. A *FileError says
// why the file is not one of the formats.
func NewReader(r io.Reader, format Format) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read the file: %w", err)
	}
	if bytes.HasPrefix(head, bom) {
		head = head[len(bom):]
		if _, err := br.Discard(len(bom)); err != nil {
			return nil, err
		}
	}
	if err := sniff(head); err != nil {
		return nil, err
	}
	isXML := bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("<"))
	switch {
	case format == BrickLink && !isXML:
		return nil, &FileError{"the file is not XML, so not a BrickLink XML file"}
	case isXML && format != Auto && format != BrickLink:
		return nil, &FileError{fmt.Sprintf("the file is XML, not %s", describe(format))}
	case isXML:
		next, err := newXMLReader(br)
		if err != nil {
			return nil, err
		}
		return &Reader{format: BrickLink, next: next}, nil
	}
	f, next, err := newCSVReader(br, format)
	if err != nil {
		return nil, err
	}
	return &Reader{format: f, next: next}, nil
}

// Format returns the file's format (the one recognised, for Auto).
func (r *Reader) Format() Format { return r.format }

// Next returns the next record, or io.EOF after the last. A *RowError is a
// record that could not be read: reading may go on after it unless it is
// fatal.
func (r *Reader) Next() (*Row, error) {
	if r.done {
		return nil, io.EOF
	}
	row, err := r.next()
	var re *RowError
	if errors.Is(err, io.EOF) || (errors.As(err, &re) && re.Fatal) {
		r.done = true
	}
	return row, err
}

var bom = []byte("\ufeff")

// sniff refuses, by their first bytes, files that are plainly neither CSV
// nor XML, with a message that says what they are.
func sniff(head []byte) error {
	magics := []struct {
		prefix, what string
	}{
		{"PK\x03\x04", "a ZIP archive (an .xlsx or .numbers spreadsheet is one too): unzip it, or export CSV"},
		{"\x1f\x8b", "gzip-compressed: decompress it first"},
		{"%PDF", "a PDF document"},
		{"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook: save it as CSV (UTF-8)"},
	}
	for _, m := range magics {
		if bytes.HasPrefix(head, []byte(m.prefix)) {
			return &FileError{"the file is " + m.what}
		}
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return &FileError{"the file is empty"}
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return &FileError{"the file is binary, not CSV or XML text (it contains NUL bytes)"}
	}
	// The first line only: a bad byte further on is a row's error, which
	// the report can place. The line's last rune may be cut by the peek.
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	for i := 0; i < utf8.UTFMax && len(head) > 0 && !utf8.Valid(head); i++ {
		head = head[:len(head)-1]
	}
	if !utf8.Valid(head) {
		return &FileError{"the file is not UTF-8 text: save it as CSV (UTF-8)"}
	}
	return nil
}

// describe names a format for a person.
func describe(f Format) string {
	switch f {
	case SetsCSV:
		return "our own CSV (SETS_CSV)"
	case Rebrickable:
		return "a Rebrickable CSV"
	case Brickset:
		return "a Brickset CSV"
	case BrickEconomy:
		return "a BrickEconomy CSV"
	case BrickLink:
		return "a BrickLink XML file"
	}
	return string(f)
}
