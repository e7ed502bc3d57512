package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/brickgallery/sets/internal/csvio"
)

// exportAnswer is a finished export download.
type exportAnswer struct {
	Status int
	Header http.Header
	Body   string
}

// export GETs /export/sets.csv with the query as token's user (no
// Authorization header when token is empty).
func (h *harness) export(t *testing.T, token, query string) exportAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/export/sets.csv"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read export: %v", err)
	}
	return exportAnswer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// mustExport is export that must succeed; it returns the file's records.
func (h *harness) mustExport(t *testing.T, token, query string) (exportAnswer, [][]string) {
	t.Helper()
	a := h.export(t, token, query)
	if a.Status != http.StatusOK {
		t.Fatalf("export%s: HTTP %d %s", query, a.Status, a.Body)
	}
	r := csvio.NewReader(strings.NewReader(a.Body), ',')
	var recs [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return a, recs
		}
		if err != nil {
			t.Fatalf("export is not CSV: line %d: %v", r.Line(), err)
		}
		recs = append(recs, rec)
	}
}

// nastyText is content that breaks naive CSV and spreadsheets.
var nastyText = []string{
	`commas, and "quotes"`, "new\nlines\r\nand CRLF", "semi;colons;", "🧱 emoji ✨ 日本語 ünï",
	"=SUM(A1:A9)", "+1", "-1", "@cmd", "'apostrophe", "''two", `"`, "x\ty",
}

func opt(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// apiCells is what each column of our CSV must hold for s, from the
// API's own answer: the same strings, nulls as empty cells.
func apiCells(s setJSON) map[string]string {
	var urls, thumbs []string
	for _, img := range s.Images {
		urls, thumbs = append(urls, img.ImageURL), append(thumbs, opt(img.ThumbnailURL))
	}
	pieces := ""
	if s.PieceCount != nil {
		pieces = strconv.Itoa(*s.PieceCount)
	}
	return map[string]string{
		"id": s.ID, "title": s.Title, "setNumber": opt(s.SetNumber), "canonicalSetNumber": opt(s.CanonicalSetNumber),
		"store": opt(s.Store), "sourceUrl": opt(s.SourceURL), "pieceCount": pieces,
		"releaseDate": opt(s.ReleaseDate), "theme": opt(s.Theme), "tags": strings.Join(s.Tags, "\x1f"),
		"notes": opt(s.Notes), "isBuilt": strconv.FormatBool(s.IsBuilt), "quantity": strconv.Itoa(s.Quantity),
		"purchasePrice": opt(s.PurchasePrice), "tax": opt(s.Tax), "shipping": opt(s.Shipping),
		"totalCost": opt(s.TotalCost), "purchaseDate": opt(s.PurchaseDate), "wishlistItemId": opt(s.WishlistItemID),
		"createdAt": s.CreatedAt, "updatedAt": s.UpdatedAt,
		"images": strings.Join(urls, "\x1f"), "thumbnails": strings.Join(thumbs, "\x1f"),
	}
}

// fileCells reads a record of our CSV the way an importer does (undefused,
// lists split) into the same shape as apiCells.
func fileCells(t *testing.T, header, rec []string) map[string]string {
	t.Helper()
	d, err := csvio.NewDecoder(header)
	if err != nil {
		t.Fatal(err)
	}
	row, err := d.Decode(rec)
	if err != nil {
		t.Fatalf("decode %q: %v", rec, err)
	}
	out := map[string]string{}
	for i, c := range header {
		out[c] = csvio.Undefuse(rec[i])
	}
	var urls, thumbs []string
	for _, img := range row.Images {
		urls, thumbs = append(urls, img.ImageURL), append(thumbs, opt(img.ThumbnailURL))
	}
	out["tags"] = strings.Join(row.Set.Tags, "\x1f")
	out["images"], out["thumbnails"] = strings.Join(urls, "\x1f"), strings.Join(thumbs, "\x1f")
	return out
}

const allSetsOldestFirst = `{ sets(first: 100, orderBy: [{field: CREATED_AT, direction: ASC}]) { nodes { ` + setFields + ` } } }`

func TestExportMatchesTheAPI(t *testing.T) {
	h := newHarness(t)
	_, token := h.newUser(t)
	wish := h.mustAddWishlistItem(t, token, map[string]any{"title": "wanted"})
	for i, text := range nastyText {
		var images []map[string]any
		for j := range i % 5 {
			img := map[string]any{"imageUrl": fmt.Sprintf("https://img.example/%d/%d?a=1,b=\"2\"", i, j)}
			if j%2 == 0 {
				img["thumbnailUrl"] = fmt.Sprintf("https://img.example/%d/%d/thumb", i, j)
			}
			images = append(images, img)
		}
		input := map[string]any{"title": text, "setNumber": "7519" + strconv.Itoa(i), "store": text,
			"theme": "Star Wars", "tags": []string{text, "tag, " + strconv.Itoa(i), `"q"`}, "notes": text,
			"images": images, "quantity": i + 1, "isBuilt": i%2 == 0}
		switch i {
		case 0:
			input["purchasePrice"], input["tax"], input["shipping"] = "0.00", "0", 0
			input["releaseDate"], input["purchaseDate"] = "1999-05-04T00:00:00Z", "2024-12-24T18:30:00.123456+01:00"
			input["pieceCount"], input["sourceUrl"], input["wishlistItemId"] = 7541, "https://lego.com/x?a=b,c", wish
		case 1:
			input["purchasePrice"], input["tax"], input["shipping"] = "99999999.99", "12.5", "0.01"
		case 2: // empty strings are stored as null
			input["store"], input["notes"], input["setNumber"] = "", "  ", ""
		}
		h.mustCreateSet(t, token, input)
	}
	h.mustCreateSet(t, token, map[string]any{"title": "bare"})
	want := mustOKData[struct {
		Sets struct{ Nodes []setJSON } `json:"sets"`
	}](t, h, token, allSetsOldestFirst, nil).Sets.Nodes

	_, recs := h.mustExport(t, token, "")
	if diff := cmp.Diff(csvio.Columns, recs[0]); diff != "" {
		t.Fatalf("header (-want +got):\n%s", diff)
	}
	if got := len(recs) - 1; got != len(want) {
		t.Fatalf("got %d rows, want %d", got, len(want))
	}
	for i, s := range want {
		if diff := cmp.Diff(apiCells(s), fileCells(t, recs[0], recs[i+1])); diff != "" {
			t.Errorf("row %d (%q) differs from the API (-api +file):\n%s", i+1, s.Title, diff)
		}
	}
	// Defused in the file itself, not only after reading.
	for _, rec := range recs[1:] {
		if title := rec[1]; strings.ContainsAny(title[:1], "=+-@\t\r") {
			t.Errorf("title cell %q starts like a formula", title)
		}
	}
}

func TestExportResponse(t *testing.T) {
	h := newHarness(t)
	_, token := h.newUser(t)
	h.mustCreateSet(t, token, map[string]any{"title": "Falcon", "setNumber": "75192", "quantity": 2, "theme": "Star Wars"})
	h.mustCreateSet(t, token, map[string]any{"title": "Castle", "setNumber": "10305", "theme": "Icons"})
	h.mustCreateSet(t, token, map[string]any{"title": "No number", "theme": "Star Wars"})
	otherID, other := h.newUser(t)
	h.mustCreateSet(t, other, map[string]any{"title": "Not yours", "setNumber": "1-1", "theme": "Star Wars"})

	a, recs := h.mustExport(t, token, "")
	if got, want := a.Header.Get("Content-Type"), "text/csv; charset=utf-8"; got != want {
		t.Errorf("Content-Type: got %q, want %q", got, want)
	}
	if got, want := a.Header.Get("Content-Disposition"),
		`attachment; filename="sets-`+time.Now().UTC().Format(time.DateOnly)+`.csv"`; got != want {
		t.Errorf("Content-Disposition: got %q, want %q", got, want)
	}
	titles := func(recs [][]string) []string {
		var out []string
		for _, r := range recs[1:] {
			out = append(out, r[1])
		}
		return out
	}
	if diff := cmp.Diff([]string{"Falcon", "Castle", "No number"}, titles(recs)); diff != "" {
		t.Errorf("only the caller's sets, oldest first (-want +got):\n%s", diff)
	}
	if strings.Contains(a.Body, otherID.String()) || strings.Contains(a.Body, "Not yours") {
		t.Errorf("the export holds another user's set:\n%s", a.Body)
	}

	t.Run("theme", func(t *testing.T) {
		_, recs := h.mustExport(t, token, "?theme=%20Star%20Wars")
		if diff := cmp.Diff([]string{"Falcon", "No number"}, titles(recs)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if _, recs := h.mustExport(t, token, "?theme=Star"); len(recs) != 1 {
			t.Errorf("a theme matches exactly: got %d records, want the header alone", len(recs))
		}
	})
	t.Run("rebrickable", func(t *testing.T) {
		a := h.export(t, token, "?format=rebrickable&theme=Star+Wars")
		want := "Set Number,Quantity,Includes Spares,Inventory ver\n75192,2,True,1\n"
		if a.Status != http.StatusOK || a.Body != want {
			t.Errorf("got HTTP %d\n%s\nwant\n%s", a.Status, a.Body, want)
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []string{"?format=xlsx", "?theme=", "?thmee=x", "?format=sets&format=rebrickable"} {
			a := h.export(t, token, q)
			if a.Status != http.StatusBadRequest || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s: got HTTP %d %q (%s), want a plain 400", q, a.Status, a.Body, a.Header.Get("Content-Type"))
			}
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		for _, tok := range []string{"", "not-a-token"} {
			a := h.export(t, tok, "")
			if a.Status != http.StatusUnauthorized || !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("token %q: got HTTP %d, WWW-Authenticate %q", tok, a.Status, a.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(a.Body, "Falcon") {
				t.Errorf("token %q: the body holds a set", tok)
			}
		}
	})
}

// More sets than a batch, many with the same created_at, come out each
// exactly once, in (createdAt, id) order.
func TestExportAcrossBatches(t *testing.T) {
	h := newHarness(t)
	user, token := h.newUser(t)
	h.warm(t, token)
	h.mustExec(t, `INSERT INTO sets (user_id, title, created_at)
		SELECT ?, 'set ' || n, timestamp '2024-01-01' + (n / 700) * interval '1 day' FROM generate_series(1, 2500) AS n`, user)
	_, recs := h.mustExport(t, token, "")
	var want []string
	err := h.check.NewRaw(`SELECT id::text FROM sets WHERE user_id = ? ORDER BY created_at, id`, user).
		Scan(context.Background(), &want)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs[1:] {
		got = append(got, r[0])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

// A client that goes away stops the export: no further batch is read.
func TestExportStopsWhenTheClientGoesAway(t *testing.T) {
	h := newHarness(t)
	user, token := h.newUser(t)
	h.warm(t, token)
	h.mustExec(t, `INSERT INTO sets (user_id, title) SELECT ?, 'set ' || n FROM generate_series(1, 10000) AS n`, user)
	batch := "ORDER BY s.created_at, s.id LIMIT"
	h.rec.setBefore(func(ctx context.Context, q string) {
		if strings.Contains(q, batch) {
			time.Sleep(100 * time.Millisecond)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/export/sets.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); err != nil { // the first batch has arrived
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(h.logs.String(), "export: client went away") {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not notice the client leaving; log:\n%s", h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	read := 0
	for _, q := range h.rec.take() {
		if strings.Contains(q, batch) && strings.HasPrefix(q, "SELECT s.id, s.user_id") {
			read++
		}
	}
	t.Logf("read %d batch(es) of 10", read)
	if read >= 10 {
		t.Errorf("read %d of the 10 batches after the client went away", read)
	}
}
