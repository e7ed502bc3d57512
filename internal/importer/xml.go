package importer

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/99designs/gqlgen/graphql"
)

// maxText bounds the text of one XML element: BrickLink's longest, the
// remarks, are a few hundred characters.
const maxText = 64 << 10

// maxFields bounds the child elements of one ITEM that are kept.
const maxFields = 64

// newXMLReader reads a BrickLink inventory or wanted list:
// <INVENTORY><ITEM><ITEMTYPE>S</ITEMTYPE><ITEMID>75192-1</ITEMID>...
//
// encoding/xml never expands entities a document defines (a DOCTYPE is
// handed over as an opaque directive, and a reference to an entity it does
// not know is an error), so an entity bomb costs nothing; nesting is
// bounded by maxDepth, and text by maxText.
func newXMLReader(br *bufio.Reader) (func() (*Row, error), error) {
	d := xml.NewDecoder(br)
	d.Strict = true
	d.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("the file declares the encoding %q; only UTF-8 is read", charset)
	}
	// The root element.
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, &FileError{fmt.Sprintf("the XML does not start with an element: %v", xmlMessage(err))}
		}
		if se, ok := tok.(xml.StartElement); ok {
			if !strings.EqualFold(se.Name.Local, "INVENTORY") {
				return nil, &FileError{fmt.Sprintf("the XML's root element is <%s>, not BrickLink's <INVENTORY>", se.Name.Local)}
			}
			break
		}
	}
	items := 0
	return func() (*Row, error) {
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				return nil, brokenXML(d, errors.New("the file ends inside <INVENTORY>"))
			}
			if err != nil {
				return nil, brokenXML(d, err)
			}
			switch t := tok.(type) {
			case xml.EndElement: // </INVENTORY>
				if items == 0 {
					return nil, &FileError{"the <INVENTORY> holds no <ITEM>"}
				}
				return nil, io.EOF
			case xml.StartElement:
				line, _ := d.InputPos()
				if !strings.EqualFold(t.Name.Local, "ITEM") {
					if err := skip(d, 2); err != nil {
						return nil, err
					}
					continue
				}
				fields, err := readItem(d)
				if err != nil {
					return nil, err
				}
				items++
				return itemRow(line, fields)
			}
		}
	}, nil
}

// readItem reads an ITEM's child elements' text, by upper-cased name.
func readItem(d *xml.Decoder) (map[string]string, error) {
	fields := map[string]string{}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, brokenXML(d, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return fields, nil
		case xml.StartElement:
			text, err := elementText(d, 3)
			if err != nil {
				return nil, err
			}
			if len(fields) < maxFields {
				fields[strings.ToUpper(t.Name.Local)] = strings.TrimSpace(text)
			}
		}
	}
}

// elementText reads the text of the element just opened, at depth, up to
// its end; text inside nested elements counts too.
func elementText(d *xml.Decoder, depth int) (string, error) {
	if depth > maxDepth {
		line, _ := d.InputPos()
		return "", &RowError{Line: line, Message: fmt.Sprintf("the XML nests deeper than %d elements", maxDepth), Fatal: true}
	}
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", brokenXML(d, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if b.Len()+len(t) > maxText {
				line, _ := d.InputPos()
				return "", &RowError{Line: line, Message: fmt.Sprintf("an element holds more than %d KiB of text", maxText>>10), Fatal: true}
			}
			b.Write(t)
		case xml.StartElement:
			s, err := elementText(d, depth+1)
			if err != nil {
				return "", err
			}
			if b.Len()+len(s) > maxText {
				line, _ := d.InputPos()
				return "", &RowError{Line: line, Message: fmt.Sprintf("an element holds more than %d KiB of text", maxText>>10), Fatal: true}
			}
			b.WriteString(s)
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

// skip reads past the element just opened, at depth.
func skip(d *xml.Decoder, depth int) error {
	_, err := elementText(d, depth)
	return err
}

func brokenXML(d *xml.Decoder, err error) error {
	line, _ := d.InputPos()
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		line = se.Line
	}
	msg := xmlMessage(err)
	if errors.Is(err, io.EOF) || msg == "unexpected EOF" {
		msg = "the file ends inside an element"
	}
	return &RowError{Line: line, Message: "the XML is broken: " + msg, Fatal: true}
}

// xmlMessage is err without encoding/xml's "XML syntax error on line N:"
// prefix: the report gives the line on its own.
func xmlMessage(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return se.Msg
	}
	return err.Error()
}

// itemRow turns an ITEM's fields into a row: sets (ITEMTYPE S) only.
func itemRow(line int, f map[string]string) (*Row, error) {
	row := newRow(line)
	if !strings.EqualFold(f["ITEMTYPE"], "S") {
		row.NotASet = true
		return row, nil
	}
	number := f["ITEMID"]
	row.columns["input.setNumber"] = "ITEMID"
	titleOr(row, "", "", number, "ITEMID")
	row.Set.SetNumber = optString(number)
	qtyCol := "QTY"
	q, ok := f["QTY"]
	if !ok || q == "" {
		q, qtyCol = f["MINQTY"], "MINQTY"
	}
	if q != "" {
		row.columns["input.quantity"] = qtyCol
		n, err := parseCount(q)
		if err != nil {
			return nil, &RowError{Line: line, Column: qtyCol, Message: err.Error()}
		}
		row.Set.Quantity = graphql.OmittableOf(n)
	}
	row.columns["input.notes"] = "REMARKS"
	row.Set.Notes = optString(f["REMARKS"])
	return row, nil
}
