package importer_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brickgallery/sets/internal/importer"
)

// got is what a test compares of a row.
type got struct {
	line      int
	title     string
	setNumber string
	quantity  int32
	wanted    bool
	notASet   bool
}

func summarize(r *importer.Row) got {
	g := got{line: r.Line, title: r.Set.Title, wanted: r.Wanted, notASet: r.NotASet, quantity: 1}
	if v := r.Set.SetNumber.Value(); v != nil {
		g.setNumber = *v
	}
	if v := r.Set.Quantity.Value(); v != nil {
		g.quantity = *v
	}
	return g
}

// readAll reads every row of the file at path, failing on any error.
func readAll(t *testing.T, path string, format importer.Format) (importer.Format, []*importer.Row) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := importer.NewReader(f, format)
	if err != nil {
		t.Fatalf("NewReader(%s): %v", path, err)
	}
	var rows []*importer.Row
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.Format(), rows
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, row)
	}
}

func TestFixturesAreRecognisedAndRead(t *testing.T) {
	tests := []struct {
		file   string
		format importer.Format
		want   []got
	}{
		{"brickset.csv", importer.Brickset, []got{
			{2, "Millennium Falcon", "75192-1", 1, false, false},
			{3, "LEGO Titanic", "10294-1", 2, false, false},
			{4, "Tree House", "21318-1", 1, false, false},
			{6, "Lion Knights' Castle", "10305-1", 1, true, false},
			{7, "King's Castle", "6080-1", 1, false, false},
		}},
		{"rebrickable.csv", importer.Rebrickable, []got{
			{2, "75192-1", "75192-1", 1, false, false},
			{3, "10294-1", "10294-1", 2, false, false},
			{4, "21318-1", "21318-1", 1, false, false},
			{5, "6080-1", "6080-1", 1, false, false},
		}},
		{"brickeconomy.csv", importer.BrickEconomy, []got{
			{2, "Millennium Falcon", "75192-1", 1, false, false},
			{3, "Titanic", "10294-1", 1, false, false},
			{4, "Tree House", "21318-1", 1, false, false},
		}},
		{"brickeconomy-semicolon.csv", importer.BrickEconomy, []got{
			{2, "Millennium Falcon", "75192-1", 1, false, false},
			{3, "Titanic", "10294-1", 1, false, false},
		}},
		{"bricklink.xml", importer.BrickLink, []got{
			{3, "75192-1", "75192-1", 1, false, false},
			{13, "", "", 1, false, true},
			{22, "", "", 1, false, true},
			{31, "10294-1", "10294-1", 2, false, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			format, rows := readAll(t, path, importer.Auto)
			if format != tt.format {
				t.Errorf("AUTO recognised %s, want %s", format, tt.format)
			}
			if len(rows) != len(tt.want) {
				t.Fatalf("read %d rows, want %d", len(rows), len(tt.want))
			}
			for i, r := range rows {
				if g := summarize(r); g != tt.want[i] {
					t.Errorf("row %d = %+v, want %+v", i, g, tt.want[i])
				}
			}
			// Naming the format reads the same rows.
			if _, again := readAll(t, path, tt.format); len(again) != len(rows) {
				t.Errorf("with format %s: %d rows, want %d", tt.format, len(again), len(rows))
			}
		})
	}
}

func TestFieldsOfEachFormat(t *testing.T) {
	_, bs := readAll(t, "testdata/brickset.csv", importer.Auto)
	falcon := bs[0].Set
	if v := falcon.Theme.Value(); v == nil || *v != "Star Wars" {
		t.Errorf("Brickset theme = %v", v)
	}
	if v := falcon.Tags.Value(); len(v) != 1 || v[0] != "Ultimate Collector Series" {
		t.Errorf("Brickset subtheme tag = %v", v)
	}
	if v := falcon.ReleaseDate.Value(); v == nil || v.Format("2006-01-02T15:04:05Z07:00") != "2017-01-01T00:00:00Z" {
		t.Errorf("Brickset year = %v, want 1 January 2017 UTC", v)
	}
	if v := falcon.PieceCount.Value(); v == nil || *v != 7541 {
		t.Errorf("Brickset pieces = %v", v)
	}
	if v := falcon.Notes.Value(); v == nil || *v != `Bought at the LEGO Store, "Black Friday" deal` {
		t.Errorf("Brickset notes = %v", v)
	}
	if v := bs[2].Set.Notes.Value(); v == nil || *v != "Built twice.\nLeaves swapped to autumn colours." {
		t.Errorf("a quoted note over two lines = %q", *v)
	}

	_, be := readAll(t, "testdata/brickeconomy.csv", importer.Auto)
	prices := []string{"799.99", "1299.99", "40.08"}
	dates := []string{"2017-11-24", "2021-11-08", "2020-03-05"}
	for i, r := range be {
		if v := r.Set.PurchasePrice.Value(); v == nil || v.String() != prices[i] {
			t.Errorf("BrickEconomy row %d paid = %v, want %s", i, v, prices[i])
		}
		if v := r.Set.PurchaseDate.Value(); v == nil || v.Format("2006-01-02") != dates[i] {
			t.Errorf("BrickEconomy row %d date = %v, want %s", i, v, dates[i])
		}
	}
	if v := be[0].Set.Tags.Value(); strings.Join(v, "|") != "Ultimate Collector Series|New/Sealed" {
		t.Errorf("BrickEconomy tags = %v, want subtheme and condition", v)
	}
	_, semi := readAll(t, "testdata/brickeconomy-semicolon.csv", importer.Auto)
	if v := semi[0].Set.PurchasePrice.Value(); v == nil || v.String() != "1299.99" {
		t.Errorf("1.299,99 € = %v, want 1299.99", v)
	}
	if v := semi[1].Set.Notes.Value(); v == nil || *v != "Gift; with a card" {
		t.Errorf("a quoted semicolon = %v", v)
	}

	_, bl := readAll(t, "testdata/bricklink.xml", importer.Auto)
	if v := bl[0].Set.Notes.Value(); v == nil || *v != "For the shelf & the kids" {
		t.Errorf("BrickLink remarks = %v", v)
	}
	if v := bl[3].Set.Notes.Value(); v == nil || *v != "Box <mint>" {
		t.Errorf("BrickLink CDATA remarks = %v", v)
	}
}

func TestAmounts(t *testing.T) {
	for in, want := range map[string]string{
		"€1,299.99": "1299.99", "$40.08": "40.08", "1.299,99 €": "1299.99", "12,50": "12.5",
		"1,299": "1299", "USD 40.08": "40.08", "£ 7": "7",
	} {
		row := "Number,SetName,Paid\n1-1,A,\"" + in + "\"\n"
		rd, err := importer.NewReader(strings.NewReader(row), importer.Auto)
		if err != nil {
			t.Fatal(err)
		}
		r, err := rd.Next()
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if v := r.Set.PurchasePrice.Value(); v == nil || v.String() != want {
			t.Errorf("%q = %v, want %s", in, v, want)
		}
	}
}

// rowError reads file to its first error, which must be a row error.
func rowError(t *testing.T, file string) *importer.RowError {
	t.Helper()
	rd, err := importer.NewReader(strings.NewReader(file), importer.Auto)
	if err != nil {
		t.Fatalf("NewReader: %v, want a row error later", err)
	}
	for {
		_, err := rd.Next()
		var re *importer.RowError
		if errors.As(err, &re) {
			return re
		}
		if err != nil {
			t.Fatalf("Next: %v, want a row error", err)
		}
	}
}

func TestRowErrorsNameLineAndColumn(t *testing.T) {
	tests := []struct {
		name, file     string
		line           int
		column, phrase string
	}{
		{"a year that is not one", "Number,Variant,Name,Year\n1,1,A,1999\n2,1,B,19x9\n", 3, "Year", "not a year"},
		{"a European date", "Number,SetName,Date\n1-1,A,24/11/2017\n", 2, "Date", "not a date"},
		{"a quantity that is not a number", "Set Number,Quantity\n1-1,one\n", 2, "Quantity", "not a whole number"},
		{"invalid UTF-8", "Set Number,Quantity\n1-1,1\n2-1,\xff\xfe\n", 3, "Quantity", "UTF-8"},
		{"a bare quote", "Set Number,Quantity\n1-1,1\n2\"-1,1\n", 3, "", "not CSV"},
		{"a line of 10 MiB", "Set Number,Quantity\n1-1,1\n" + strings.Repeat("x", 10<<20), 3, "", "longer than 1 MiB"},
		{"our CSV's bad isBuilt", "title,setNumber,isBuilt\nA,1-1,maybe\n", 2, "isBuilt", "true or false"},
		{"an XML entity bomb", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<INVENTORY><ITEM><ITEMTYPE>S</ITEMTYPE><ITEMID>&lol2;</ITEMID></ITEM></INVENTORY>`, 2, "", "entity"},
		{"XML nested 10,000 deep", "<INVENTORY><ITEM><ITEMTYPE>S</ITEMTYPE><X>" + strings.Repeat("<a>", 10_000), 1, "", "deeper than"},
		{"XML cut short", "<INVENTORY>\n<ITEM><ITEMTYPE>S</ITEMTYPE>\n", 3, "", "ends inside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := rowError(t, tt.file)
			if re.Line != tt.line || re.Column != tt.column || !strings.Contains(re.Message, tt.phrase) {
				t.Errorf("got line %d column %q %q, want line %d column %q mentioning %q",
					re.Line, re.Column, re.Message, tt.line, tt.column, tt.phrase)
			}
		})
	}
}

func TestFilesThatAreNoFormat(t *testing.T) {
	zip := []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00sets.csv")
	tests := []struct {
		name   string
		file   []byte
		format importer.Format
		phrase string
	}{
		{"a ZIP renamed .csv", zip, importer.Auto, "ZIP"},
		{"an empty file", nil, importer.Auto, "empty"},
		{"binary", []byte("abc\x00def\n"), importer.Auto, "binary"},
		{"a Latin-1 header", []byte("Num\xe9ro,SetName\n1-1,Caf\xe9\n"), importer.Auto, "UTF-8"},
		{"an unknown header", []byte("foo,bar\n1,2\n"), importer.Auto, `"foo", "bar"`},
		{"XML that is not BrickLink's", []byte("<html><body/></html>"), importer.Auto, "<html>"},
		{"a header the named format lacks", []byte("Set Number,Quantity\n1-1,1\n"), importer.Brickset, "Number and Variant"},
		{"CSV named as XML", []byte("Set Number,Quantity\n1-1,1\n"), importer.BrickLink, "not XML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := importer.NewReader(bytes.NewReader(tt.file), tt.format)
			var fe *importer.FileError
			if !errors.As(err, &fe) || !strings.Contains(fe.Message, tt.phrase) {
				t.Errorf("NewReader = %v, want a file error mentioning %q", err, tt.phrase)
			}
		})
	}
	// A header and nothing else: refused when reading finds no rows.
	for _, file := range []string{"Set Number,Quantity\n", "<INVENTORY></INVENTORY>"} {
		rd, err := importer.NewReader(strings.NewReader(file), importer.Auto)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rd.Next()
		var fe *importer.FileError
		if !errors.As(err, &fe) {
			t.Errorf("%q: Next = %v, want a file error", file, err)
		}
	}
}

func TestColumnOfAValidationError(t *testing.T) {
	_, rows := readAll(t, "testdata/brickset.csv", importer.Auto)
	r := rows[0]
	for field, want := range map[string]string{
		"input.title": "Name", "input.releaseDate": "Year", "input.tags.0": "Subtheme", "input.pieceCount": "Pieces",
		"input.setNumber": "Number", "input.store": "",
	} {
		if got := r.Column(field); got != want {
			t.Errorf("Column(%q) = %q, want %q", field, got, want)
		}
	}
}
