package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// urlOf returns an absolute URL exactly n characters long.
func urlOf(n int) string {
	const prefix = "https://img.example/"
	return prefix + strings.Repeat("a", n-len(prefix))
}

func manyTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag%d", i)
	}
	return tags
}

func manyImages(n int) []map[string]any {
	images := make([]map[string]any, n)
	for i := range images {
		images[i] = map[string]any{"imageUrl": urlOf(40)}
	}
	return images
}

// validationCase is one CreateSetInput field value at or beyond a bound.
type validationCase struct {
	name  string
	field string // the input field set to value
	value any
	// bad is the extensions.field expected; empty when the value is valid.
	bad string
}

func inside(name, field string, value any) validationCase {
	return validationCase{name: name, field: field, value: value}
}

func outside(name, field string, value any, bad string) validationCase {
	return validationCase{name: name, field: field, value: value, bad: bad}
}

// validationCases walk every input rule of SPEC §5: just inside each bound
// passes, just outside fails naming the field. Lengths are in code points,
// so several are built from multi-byte characters.
func validationCases() []validationCase {
	r := strings.Repeat
	return []validationCase{
		inside("title 300 two-byte chars", "title", r("é", 300)),
		outside("title 301 two-byte chars", "title", r("é", 301), "input.title"),
		inside("title 300 four-byte chars", "title", r("🧱", 300)),
		outside("title 301 four-byte chars", "title", r("🧱", 301), "input.title"),
		inside("title 300 chars padded", "title", "  \t"+r("x", 300)+" \n"),
		inside("title 1 char", "title", "x"),
		outside("title empty", "title", "", "input.title"),
		outside("title blank", "title", " \t\n ", "input.title"),
		outside("title with NUL", "title", "a\x00b", "input.title"),
		inside("set number 50", "setNumber", r("ß", 50)),
		outside("set number 51", "setNumber", r("ß", 51), "input.setNumber"),
		outside("set number NUL", "setNumber", "\x00", "input.setNumber"),
		inside("theme 100", "theme", r("ü", 100)),
		outside("theme 101", "theme", r("ü", 101), "input.theme"),
		inside("store 100", "store", r("ø", 100)),
		outside("store 101", "store", r("ø", 101), "input.store"),
		outside("store NUL", "store", "LEGO\x00", "input.store"),
		inside("notes 10000", "notes", r("ñ", 10_000)),
		outside("notes 10001", "notes", r("ñ", 10_001), "input.notes"),
		outside("notes NUL", "notes", "line\x00", "input.notes"),
		inside("url 2048", "sourceUrl", urlOf(2048)),
		outside("url 2049", "sourceUrl", urlOf(2049), "input.sourceUrl"),
		inside("url http", "sourceUrl", "http://x.example"),
		outside("url ftp", "sourceUrl", "ftp://x.example/a", "input.sourceUrl"),
		outside("url relative", "sourceUrl", "/sets/75192", "input.sourceUrl"),
		outside("url scheme-relative", "sourceUrl", "//x.example/a", "input.sourceUrl"),
		outside("url without host", "sourceUrl", "https://", "input.sourceUrl"),
		outside("url javascript", "sourceUrl", "javascript:alert(1)", "input.sourceUrl"),
		outside("url NUL", "sourceUrl", "https://x.example/\x00", "input.sourceUrl"),
		inside("50 tags", "tags", manyTags(50)),
		outside("51 tags", "tags", manyTags(51), "input.tags"),
		inside("51 tags, 50 once de-duplicated", "tags", append(manyTags(50), "TAG7")),
		inside("tag 50 chars", "tags", []string{r("ä", 50)}),
		outside("tag 51 chars", "tags", []string{"ok", r("ä", 51)}, "input.tags.1"),
		outside("tag empty", "tags", []string{"ok", " "}, "input.tags.1"),
		outside("tag NUL", "tags", []string{"\x00"}, "input.tags.0"),
		inside("pieces 0", "pieceCount", 0),
		outside("pieces -1", "pieceCount", -1, "input.pieceCount"),
		inside("pieces 1000000", "pieceCount", 1_000_000),
		outside("pieces 1000001", "pieceCount", 1_000_001, "input.pieceCount"),
		outside("pieces 2^31", "pieceCount", 2147483648, "input.pieceCount"),
		outside("pieces -2^31-1", "pieceCount", -2147483649, "input.pieceCount"),
		inside("quantity 1", "quantity", 1),
		outside("quantity 0", "quantity", 0, "input.quantity"),
		inside("quantity 10000", "quantity", 10_000),
		outside("quantity 10001", "quantity", 10_001, "input.quantity"),
		outside("quantity null", "quantity", nil, "input.quantity"),
		inside("money 0", "purchasePrice", "0"),
		inside("money max", "purchasePrice", "99999999.99"),
		outside("money max + 0.01", "purchasePrice", "100000000.00", "input.purchasePrice"),
		outside("money 3 decimals", "tax", "0.001", "input.tax"),
		outside("money 3 decimals near max", "tax", "99999999.995", "input.tax"),
		outside("money negative", "shipping", "-0.01", "input.shipping"),
		outside("money exponent", "shipping", "1e2", "input.shipping"),
		outside("money not a number", "shipping", "ten", "input.shipping"),
		outside("money empty", "shipping", "", "input.shipping"),
		outside("money huge", "shipping", "1"+r("0", 400), "input.shipping"),
		inside("date 1949", "releaseDate", "1949-01-01T00:00:00Z"),
		outside("date 1948", "releaseDate", "1948-12-31T23:59:59.999999Z", "input.releaseDate"),
		outside("date 1948 in UTC", "releaseDate", "1949-01-01T00:30:00+01:00", "input.releaseDate"),
		inside("date 2100", "purchaseDate", "2100-12-31T23:59:59.999999Z"),
		outside("date 2101", "purchaseDate", "2101-01-01T00:00:00Z", "input.purchaseDate"),
		outside("date without time", "purchaseDate", "2024-01-01", "input.purchaseDate"),
		outside("date month 13", "purchaseDate", "2024-13-01T00:00:00Z", "input.purchaseDate"),
		outside("wishlist id not a uuid", "wishlistItemId", "wish-1", "input.wishlistItemId"),
		inside("50 images", "images", manyImages(50)),
		outside("51 images", "images", manyImages(51), "input.images"),
		inside("image url 2048", "images", []map[string]any{{"imageUrl": urlOf(2048), "thumbnailUrl": urlOf(2048)}}),
		outside("image url 2049", "images", []map[string]any{{"imageUrl": urlOf(40)}, {"imageUrl": urlOf(2049)}}, "input.images.1.imageUrl"),
		outside("image url relative", "images", []map[string]any{{"imageUrl": "a.jpg"}}, "input.images.0.imageUrl"),
		outside("thumbnail url ftp", "images", []map[string]any{{"imageUrl": urlOf(40), "thumbnailUrl": "ftp://x.example/t"}}, "input.images.0.thumbnailUrl"),
		inside("image position 10000", "images", []map[string]any{{"imageUrl": urlOf(40), "position": 10_000}}),
		outside("image position -1", "images", []map[string]any{{"imageUrl": urlOf(40), "position": -1}}, "input.images.0.position"),
		outside("image position 10001", "images", []map[string]any{{"imageUrl": urlOf(40), "position": 10_001}}, "input.images.0.position"),
		outside("image url missing", "images", []map[string]any{{"thumbnailUrl": urlOf(40)}}, "input.images.0.imageUrl"),
	}
}

func TestCreateSetValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.warm(t, token)
	for _, tc := range validationCases() {
		t.Run(tc.name, func(t *testing.T) {
			input := map[string]any{"title": "Valid title", tc.field: tc.value}
			sets, images := h.count(t, "sets"), h.count(t, "set_images")
			r := h.do(t, token, createSetMutation, map[string]any{"input": input})
			statements := h.rec.take()
			if tc.bad == "" {
				mustOK(t, r, nil)
				return
			}
			mustFail(t, r, "BAD_USER_INPUT", tc.bad)
			if s, i := h.count(t, "sets"), h.count(t, "set_images"); s != sets || i != images {
				t.Errorf("rows: got %d sets and %d images, want %d and %d", s, i, sets, images)
			}
			if len(statements) > 0 {
				t.Errorf("bad input reached the database: %q", statements)
			}
		})
	}
}

// TestUpdateSetValidation runs the same cases through updateSet (but
// images, which it does not take).
func TestUpdateSetValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, fullInput())
	h.rec.take()
	for _, tc := range validationCases() {
		if tc.field == "images" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			before := h.snapshotSet(t, set.ID)
			r := h.do(t, token, updateSetMutation, map[string]any{"id": set.ID, "input": map[string]any{tc.field: tc.value}})
			statements := h.rec.take()
			if tc.bad == "" {
				mustOK(t, r, nil)
				return
			}
			mustFail(t, r, "BAD_USER_INPUT", tc.bad)
			if after := h.snapshotSet(t, set.ID); after != before {
				t.Errorf("the set changed:\nbefore %s\nafter  %s", before, after)
			}
			if len(statements) > 0 {
				t.Errorf("bad input reached the database: %q", statements)
			}
		})
	}
}

// TestStoredTrimmedAndDeduplicated: strings are stored trimmed, and tags
// keep the first spelling of each, in the order given.
func TestStoredTrimmedAndDeduplicated(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, map[string]any{
		"title": " \u00a0Falcon\t", "theme": " Star Wars ", "store": "\nShop ", "notes": "  a  ",
		"tags": []string{" Star ", "star", "STAR", "Wars", " wars", "Ünï", "üNÏ"},
	})
	var row struct {
		Title, Theme, Store, Notes string
		Tags                       []string
	}
	err := h.check.NewRaw(`SELECT title, theme, store, notes, tags FROM sets WHERE id = ?`, set.ID).
		Scan(t.Context(), &row.Title, &row.Theme, &row.Store, &row.Notes, pgdialect.Array(&row.Tags))
	if err != nil {
		t.Fatal(err)
	}
	want := struct {
		Title, Theme, Store, Notes string
		Tags                       []string
	}{"Falcon", "Star Wars", "Shop", "a", []string{"Star", "Wars", "Ünï"}}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("stored row (-want +got):\n%s", diff)
	}
}

// TestIntOverflow: a number beyond GraphQL's 32-bit Int is the client's
// mistake wherever it is written, never an internal error.
func TestIntOverflow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.warm(t, token)
	const withVar = `mutation($n: Int) { createSet(input: {title: "x", pieceCount: $n}) { set { id } } }`
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"pieceCount literal", `mutation { createSet(input: {title: "x", pieceCount: 2147483648}) { set { id } } }`, nil, "input.pieceCount"},
		{"quantity literal", `mutation { createSet(input: {title: "x", quantity: -2147483649}) { set { id } } }`, nil, "input.quantity"},
		{"input variable", createSetMutation, map[string]any{"input": map[string]any{"title": "x", "pieceCount": 2147483648}}, "input.pieceCount"},
		// The error names where the value lands (the argument), even when
		// it came through a variable of another name.
		{"Int variable", withVar, map[string]any{"n": 2147483648}, "input.pieceCount"},
		// Past 64 bits gqlparser refuses the variable itself, by its name.
		{"Int variable past 64 bits", withVar, map[string]any{"n": json.Number("99999999999999999999999")}, "n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustFail(t, h.do(t, token, tc.query, tc.vars), "BAD_USER_INPUT", tc.field)
		})
	}
	t.Run("literal past 64 bits", func(t *testing.T) {
		// gqlparser rejects the document itself: a validation error, which
		// is the client's mistake too.
		r := h.do(t, token, `mutation { createSet(input: {title: "x", pieceCount: 99999999999999999999999}) { set { id } } }`, nil)
		if len(r.Errors) == 0 || r.Status >= 500 || r.Errors[0].Extensions.Code != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("got %s, want a GRAPHQL_VALIDATION_FAILED error", r)
		}
	})
	if n := h.count(t, "sets"); n != 0 {
		t.Errorf("sets: got %d rows, want 0", n)
	}
	if got := h.rec.take(); len(got) > 0 {
		t.Errorf("ran SQL: %q", got)
	}
}
