package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/brickgallery/sets/models"
)

const importMutation = `mutation($file: Upload!, $format: ImportFormat, $mode: ImportMode, $target: ImportTarget, $dryRun: Boolean) {
	importSets(file: $file, format: $format, mode: $mode, target: $target, dryRun: $dryRun) {
		format dryRun rowsRead created skipped skippedLines errors { line column message } } }`

// importReport is an ImportReport as the API returns it.
type importReport struct {
	Format       string        `json:"format"`
	DryRun       bool          `json:"dryRun"`
	RowsRead     int           `json:"rowsRead"`
	Created      int           `json:"created"`
	Skipped      int           `json:"skipped"`
	SkippedLines []int         `json:"skippedLines"`
	Errors       []importError `json:"errors"`
}

// importError is an ImportError as the API returns it.
type importError struct {
	Line    int     `json:"line"`
	Column  *string `json:"column"`
	Message string  `json:"message"`
}

// multipartBody is a GraphQL multipart request (the spec Apollo's upload
// link and curl -F follow) carrying file as variables.file.
func multipartBody(t *testing.T, query string, vars map[string]any, file []byte) (*bytes.Buffer, string) {
	t.Helper()
	v := map[string]any{"file": nil}
	for k, x := range vars {
		v[k] = x
	}
	ops, err := json.Marshal(map[string]any{"query": query, "variables": v})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("operations", string(ops))
	mw.WriteField("map", `{"0":["variables.file"]}`)
	fw, err := mw.CreateFormFile("0", "collection.csv")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	return &body, mw.FormDataContentType()
}

// upload sends file to importSets as token's user.
func (h *harness) upload(t *testing.T, token string, vars map[string]any, file []byte) response {
	t.Helper()
	return h.uploadQuery(t, token, importMutation, vars, file)
}

// uploadQuery sends query with file as variables.file, as token's user.
func (h *harness) uploadQuery(t *testing.T, token, query string, vars map[string]any, file []byte) response {
	t.Helper()
	body, contentType := multipartBody(t, query, vars, file)
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	return h.send(t, req)
}

func (h *harness) mustImport(t *testing.T, token string, vars map[string]any, file []byte) importReport {
	t.Helper()
	var data struct {
		ImportSets importReport `json:"importSets"`
	}
	mustOK(t, h.upload(t, token, vars, file), &data)
	return data.ImportSets
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../importer/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// titles lists token's user's set titles, oldest first, and wishlist titles.
func (h *harness) titles(t *testing.T, token string) (sets, wishlist []string) {
	t.Helper()
	var data struct {
		Sets struct {
			Nodes []struct{ Title string } `json:"nodes"`
		} `json:"sets"`
		Wishlist struct {
			Nodes []struct{ Title string } `json:"nodes"`
		} `json:"wishlist"`
	}
	mustOK(t, h.do(t, token, `{ sets(first: 100, orderBy: [{field: CREATED_AT, direction: ASC}]) { nodes { title } }
		wishlist(first: 100, orderBy: [{field: CREATED_AT, direction: ASC}]) { nodes { title } } }`, nil), &data)
	for _, n := range data.Sets.Nodes {
		sets = append(sets, n.Title)
	}
	for _, n := range data.Wishlist.Nodes {
		wishlist = append(wishlist, n.Title)
	}
	return sets, wishlist
}

func TestImportBricksetIntoCollectionAndWishlist(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	// Another collector owns the Falcon: that must not make mine a skip.
	_, other := h.newUser(t)
	h.mustCreateSet(t, other, map[string]any{"title": "Falcon", "setNumber": "75192"})

	r := h.mustImport(t, token, nil, fixture(t, "brickset.csv"))
	if r.Format != "BRICKSET_CSV" || r.RowsRead != 5 || r.Created != 5 || r.Skipped != 0 || len(r.Errors) != 0 || r.DryRun {
		t.Fatalf("first import: %+v, want BRICKSET_CSV, 5 read, 5 created", r)
	}
	sets, wishlist := h.titles(t, token)
	if want := []string{"Millennium Falcon", "LEGO Titanic", "Tree House", "King's Castle"}; !slices.Equal(sets, want) {
		t.Errorf("sets = %q, want %q in the file's order", sets, want)
	}
	if want := []string{"Lion Knights' Castle"}; !slices.Equal(wishlist, want) {
		t.Errorf("wishlist = %q, want the wanted row %q", wishlist, want)
	}
	var data struct {
		Sets struct {
			Nodes []setJSON `json:"nodes"`
		} `json:"sets"`
	}
	mustOK(t, h.do(t, token, `{ sets(first: 1, filter: {setNumber: "10294"}) { nodes { `+setFields+` } } }`, nil), &data)
	if len(data.Sets.Nodes) != 1 {
		t.Fatalf("no set 10294 after the import")
	}
	titanic := data.Sets.Nodes[0]
	if opt(titanic.CanonicalSetNumber) != "10294-1" || titanic.Quantity != 2 || opt(titanic.Theme) != "Icons" ||
		!slices.Equal(titanic.Tags, []string{"Titanic"}) || opt(titanic.ReleaseDate) != "2021-01-01T00:00:00Z" {
		t.Errorf("Titanic = %+v", titanic)
	}

	again := h.mustImport(t, token, nil, fixture(t, "brickset.csv"))
	if again.Created != 0 || again.Skipped != 5 || !slices.Equal(again.SkippedLines, []int{2, 3, 4, 6, 7}) {
		t.Errorf("second import with SKIP_EXISTING: %+v, want nothing created and lines 2, 3, 4, 6, 7 skipped", again)
	}
	if s, w := h.titles(t, token); len(s) != 4 || len(w) != 1 {
		t.Errorf("after the second import: %d sets, %d items; want 4 and 1", len(s), len(w))
	}
	add := h.mustImport(t, token, map[string]any{"mode": "ADD", "target": "WISHLIST"}, fixture(t, "brickset.csv"))
	if add.Created != 1 || !slices.Equal(add.SkippedLines, []int{2, 3, 4, 7}) {
		t.Errorf("into the wishlist with ADD: %+v, want the one wanted row, the owned ones skipped", add)
	}
}

func TestImportEveryFormat(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tt := range []struct {
		file, format string
		created      int
		skippedLines []int
	}{
		{"rebrickable.csv", "REBRICKABLE_CSV", 4, []int{}},
		{"brickeconomy.csv", "BRICKECONOMY_CSV", 3, []int{}},
		{"brickeconomy-semicolon.csv", "BRICKECONOMY_CSV", 2, []int{}},
		{"bricklink.xml", "BRICKLINK_XML", 2, []int{13, 22}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			_, token := h.newUser(t)
			r := h.mustImport(t, token, nil, fixture(t, tt.file))
			if r.Format != tt.format || r.Created != tt.created || !slices.Equal(r.SkippedLines, tt.skippedLines) || len(r.Errors) > 0 {
				t.Errorf("import: %+v, want %s with %d created, lines %v skipped", r, tt.format, tt.created, tt.skippedLines)
			}
			if sets, _ := h.titles(t, token); len(sets) != tt.created {
				t.Errorf("%d sets after the import, want %d", len(sets), tt.created)
			}
		})
	}
	t.Run("a BrickLink wanted list into the wishlist", func(t *testing.T) {
		_, token := h.newUser(t)
		r := h.mustImport(t, token, map[string]any{"target": "WISHLIST"}, fixture(t, "bricklink.xml"))
		sets, wishlist := h.titles(t, token)
		if r.Created != 2 || len(sets) != 0 || !slices.Equal(wishlist, []string{"75192-1", "10294-1"}) {
			t.Errorf("report %+v, sets %q, wishlist %q; want the two sets on the wishlist", r, sets, wishlist)
		}
	})
}

func TestImportIsAllOrNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	long := strings.Repeat("x", models.MaxTitle+1)
	file := "Number,Variant,Name,Year,Pieces\n" +
		"75192,1,Millennium Falcon,2017,7541\n" +
		"10294,1,Titanic,19x9,9090\n" +
		"21318,1," + long + ",2019,3036\n" +
		"6080,1,King's Castle,1984,-5\n"
	r := h.mustImport(t, token, nil, []byte(file))
	if r.Created != 0 || len(r.Errors) != 3 {
		t.Fatalf("report %+v, want 3 errors and nothing created", r)
	}
	// The message createSet gives for the same title, word for word.
	bad := h.do(t, token, createSetMutation, map[string]any{"input": map[string]any{"title": long}})
	createErr := mustFail(t, bad, "BAD_USER_INPUT", "input.title")
	bad = h.do(t, token, createSetMutation, map[string]any{"input": map[string]any{"title": "x", "pieceCount": -5}})
	piecesErr := mustFail(t, bad, "BAD_USER_INPUT", "input.pieceCount")
	want := []struct {
		line           int
		column, phrase string
	}{{3, "Year", "not a year"}, {4, "Name", createErr.Message}, {5, "Pieces", piecesErr.Message}}
	for i, w := range want {
		e := r.Errors[i]
		if e.Line != w.line || e.Column == nil || *e.Column != w.column || !strings.Contains(e.Message, w.phrase) {
			t.Errorf("error %d = line %d column %v %q, want line %d column %s %q", i, e.Line, e.Column, e.Message, w.line, w.column, w.phrase)
		}
	}
	if sets, _ := h.titles(t, token); len(sets) != 0 {
		t.Errorf("a failed import wrote %q", sets)
	}

	var many strings.Builder
	many.WriteString("Set Number,Quantity\n")
	for i := range 150 {
		fmt.Fprintf(&many, "%d-1,%d\n", 2000+i, -i) // quantity 0 and below: every row bad
	}
	capped := h.mustImport(t, token, map[string]any{"mode": "ADD"}, []byte(many.String()))
	if len(capped.Errors) != 100 || capped.Created != 0 || capped.Errors[0].Line != 2 ||
		!slices.IsSortedFunc(capped.Errors, func(a, b importError) int { return a.Line - b.Line }) {
		t.Errorf("150 bad rows: %d errors from line %d, want the first 100 in line order", len(capped.Errors), capped.Errors[0].Line)
	}

	dry := h.mustImport(t, token, map[string]any{"dryRun": true}, fixture(t, "brickset.csv"))
	if !dry.DryRun || dry.Created != 5 {
		t.Errorf("dry run: %+v, want the report of a real import", dry)
	}
	if sets, items := h.titles(t, token); len(sets)+len(items) != 0 {
		t.Errorf("a dry run wrote %q, %q", sets, items)
	}
}

func TestImportRefusesFilesThatAreNoFormat(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for name, file := range map[string][]byte{
		"a ZIP renamed .csv": []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"),
		"an unknown header":  []byte("foo,bar\n1,2\n"),
		"a header only":      []byte("Set Number,Quantity\n"),
	} {
		t.Run(name, func(t *testing.T) {
			mustFail(t, h.upload(t, token, nil, file), "BAD_USER_INPUT", "file")
		})
	}
	t.Run("more than 50,000 rows", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Set Number,Quantity\n")
		for i := range 50_001 {
			fmt.Fprintf(&b, "%d-1,1\n", 10000+i)
		}
		mustFail(t, h.upload(t, token, map[string]any{"mode": "ADD"}, []byte(b.String())), "BAD_USER_INPUT", "file")
		if n := h.count(t, "sets"); n != 0 {
			t.Errorf("%d sets written by a refused import", n)
		}
	})
	t.Run("more than 10 MiB", func(t *testing.T) {
		file := append([]byte("Set Number,Quantity,Notes\n1-1,1,"), bytes.Repeat([]byte("x"), 10<<20)...)
		mustFail(t, h.upload(t, token, nil, file), "BAD_USER_INPUT", "file")
	})
	// The server keeps serving.
	mustOK(t, h.do(t, token, `{ me { id } }`, nil), nil)
}

func TestUploadBodyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	// Past MEDIA_MAX_BYTES (20 MiB) + 1 MiB, the multipart limit.
	body, contentType := multipartBody(t, importMutation, nil, bytes.Repeat([]byte("x"), h.cfg.MediaMaxBytes+2<<20))
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			var rd io.Reader = bytes.NewReader(body.Bytes())
			if chunked {
				rd = io.MultiReader(rd) // hides the length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", rd)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Authorization", "Bearer "+token)
			r := h.send(t, req)
			if r.Status != http.StatusRequestEntityTooLarge || len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "BAD_USER_INPUT" {
				t.Errorf("a 22 MiB upload: %s, want 413 BAD_USER_INPUT", r)
			}
		})
	}
}

// TestImportRoundTrip exports a collection whose values hold everything a
// CSV can trip on, imports the file into an empty account, and exports
// that: the two files are the same bytes (SPEC §9).
func TestImportRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	from, token := h.newUser(t)
	nasty := []string{`comma, "quote"; semicolon`, "line\nbreak\r\nand CR LF", "=SUM(A1:A9)", "+1", "-2", "@cmd",
		"\ttab", "émoji 🧱 中文", `\N`, "trailing space "}
	for i, text := range nasty {
		h.mustCreateSet(t, token, map[string]any{
			"title": fmt.Sprintf("Set %d %s", i, strings.TrimSpace(text)), "setNumber": fmt.Sprintf("%d-%d", 1000+i, i%3+1),
			"notes": text, "tags": []string{strings.TrimSpace(text), "tag,with,commas"}, "theme": "Theme; " + strings.TrimSpace(text),
			"store": "=HYPERLINK(\"x\")", "pieceCount": i * 100, "isBuilt": i%2 == 0, "quantity": i + 1,
			"purchasePrice": fmt.Sprintf("%d.99", i), "tax": "0.10", "releaseDate": "2019-06-01T00:00:00Z",
			"images": []map[string]any{
				{"imageUrl": fmt.Sprintf("https://img.example.com/%d/a.jpg?x=1,2", i), "thumbnailUrl": "https://img.example.com/t.jpg"},
				{"imageUrl": fmt.Sprintf("https://img.example.com/%d/b.jpg", i)},
			},
		})
	}
	h.mustCreateSet(t, token, map[string]any{"title": "Bare"})
	_, first := h.mustExport(t, token, "")
	before := h.export(t, token, "").Body
	if len(first) != len(nasty)+2 {
		t.Fatalf("export has %d records, want a header and %d sets", len(first), len(nasty)+1)
	}
	// The collector moves: the old account's sets are gone, their ids free.
	if _, err := h.check.NewDelete().TableExpr("sets").Where("user_id = ?", from).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, to := h.newUser(t)
	r := h.mustImport(t, to, map[string]any{"mode": "ADD"}, []byte(before))
	if r.Format != "SETS_CSV" || r.Created != len(nasty)+1 || len(r.Errors) > 0 {
		t.Fatalf("import of the export: %+v", r)
	}
	after := h.export(t, to, "").Body
	if after != before {
		t.Errorf("export, import, export differ:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestImportBadFilesGetErrors sends files built to hurt a parser: each is
// refused with the line at fault, nothing is written, and the server keeps
// serving.
func TestImportBadFilesGetErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for _, tt := range []struct {
		name   string
		file   string
		line   int
		phrase string
	}{
		{"a 10 MiB line with no newline", "Set Number,Quantity\n1-1,1\n" + strings.Repeat("7", 10<<20-40), 3, "longer than 1 MiB"},
		{"invalid UTF-8", "Set Number,Quantity\n1-1,1\n2-1,\xff\n", 3, "UTF-8"},
		{"an entity bomb", `<?xml version="1.0"?>
<!DOCTYPE b [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<INVENTORY><ITEM><ITEMTYPE>S</ITEMTYPE><ITEMID>&c;</ITEMID></ITEM></INVENTORY>`, 3, "entity"},
		{"10,000-deep nesting", "<INVENTORY><ITEM><REMARKS>" + strings.Repeat("<x>", 10_000) + strings.Repeat("</x>", 10_000) + "</REMARKS></ITEM></INVENTORY>", 1, "deeper than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.mustImport(t, token, map[string]any{"mode": "ADD"}, []byte(tt.file))
			if r.Created != 0 || len(r.Errors) == 0 || r.Errors[0].Line != tt.line || !strings.Contains(r.Errors[0].Message, tt.phrase) {
				t.Errorf("report %+v, want an error on line %d mentioning %q", r, tt.line, tt.phrase)
			}
		})
	}
	if n := h.count(t, "sets"); n != 0 {
		t.Errorf("bad files wrote %d sets", n)
	}
	mustOK(t, h.do(t, token, `{ me { id } }`, nil), nil)
}

// TestConcurrentImportsSkipOnce sends the same file twice at once: one
// import waits for the other, so the second finds every set number there.
func TestConcurrentImportsSkipOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.warm(t, token)
	file := fixture(t, "brickset.csv")
	created := make(chan int, 4)
	for range 4 {
		go func() {
			body, contentType := multipartBody(t, importMutation, nil, file)
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", body)
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				created <- -1
				return
			}
			defer resp.Body.Close()
			var out struct {
				Data struct {
					ImportSets importReport `json:"importSets"`
				} `json:"data"`
			}
			if json.NewDecoder(resp.Body).Decode(&out) != nil {
				created <- -1
				return
			}
			created <- out.Data.ImportSets.Created
		}()
	}
	total := 0
	for range 4 {
		total += <-created
	}
	if sets, items := h.titles(t, token); total != 5 || len(sets) != 4 || len(items) != 1 {
		t.Errorf("four imports at once created %d rows (%d sets, %d items), want 5 in all", total, len(sets), len(items))
	}
}
