package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/brickgallery/sets/graph"
)

// TestSetWritesEverySchemaField guards graph/model.Set, which writes Set and
// SetImage objects as JSON itself rather than through gqlgen's per-field
// execution: every field the schema declares must come out, under its
// alias, in selection order, non-null when the set has a value for it,
// through fragments and honouring @skip. A field added to the schema but not
// to the marshaller fails here.
func TestSetWritesEverySchemaField(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, map[string]any{
		"title": "Millennium Falcon", "setNumber": "75192-1", "store": "LEGO Store",
		"sourceUrl": "https://example.com/75192", "pieceCount": 7541,
		"releaseDate": "2017-10-01T00:00:00Z", "theme": "Star Wars", "tags": []string{"UCS"},
		"notes": "with \"quotes\", a \\ and a\nnewline", "isBuilt": true, "quantity": 2,
		"purchasePrice": "799.99", "tax": "64.00", "shipping": "0.01",
		"purchaseDate":   "2018-01-02T03:04:05.123456Z",
		"wishlistItemId": "6f1c3c1e-93b5-4a4e-9a7e-2f0c6f8d5a10",
		"images": []map[string]any{
			{"imageUrl": "https://img.example.com/1.jpg", "thumbnailUrl": "https://img.example.com/1t.jpg"},
			{"imageUrl": "https://img.example.com/2.jpg", "thumbnailUrl": "https://img.example.com/2t.jpg"},
		},
	})

	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var setSel, imageSel []string
	wantSet := []string{"f_title", "a___typename"}
	for _, f := range schema.Types["Set"].Fields {
		if f.Name == "images" || strings.HasPrefix(f.Name, "__") {
			continue
		}
		setSel = append(setSel, "a_"+f.Name+": "+f.Name)
		wantSet = append(wantSet, "a_"+f.Name)
	}
	wantImage := []string{"b___typename"}
	for _, f := range schema.Types["SetImage"].Fields {
		if !strings.HasPrefix(f.Name, "__") {
			imageSel = append(imageSel, "b_"+f.Name+": "+f.Name)
			wantImage = append(wantImage, "b_"+f.Name)
		}
	}
	wantSet = append(wantSet, "a_images")
	query := fmt.Sprintf(`query($id: UUID!) { set(id: $id) { ...F a___typename: __typename %s
		a_images: images { b___typename: __typename %s skipped: id @skip(if: true) }
		skipped: title @skip(if: true) } }
		fragment F on Set { f_title: title }`, strings.Join(setSel, " "), strings.Join(imageSel, " "))
	r := h.do(t, token, query, map[string]any{"id": set.ID})
	mustOK(t, r, nil)

	var data struct {
		Set json.RawMessage `json:"set"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	keys, values := objectKeys(t, data.Set)
	if diff := cmp.Diff(wantSet, keys); diff != "" {
		t.Errorf("Set keys, in order (-want +got):\n%s", diff)
	}
	for i, k := range keys {
		if string(values[i]) == "null" {
			t.Errorf("Set field %s is null, want the set's value", k)
		}
	}
	var images []json.RawMessage
	if err := json.Unmarshal(values[slices.Index(keys, "a_images")], &images); err != nil || len(images) != 2 {
		t.Fatalf("a_images = %s, want 2 images (%v)", values[len(values)-1], err)
	}
	for _, img := range images {
		keys, values := objectKeys(t, img)
		if diff := cmp.Diff(wantImage, keys); diff != "" {
			t.Errorf("SetImage keys, in order (-want +got):\n%s", diff)
		}
		for i, k := range keys {
			if string(values[i]) == "null" {
				t.Errorf("SetImage field %s is null", k)
			}
		}
	}
	if got := values[slices.Index(keys, "a_notes")]; string(got) != `"with \"quotes\", a \\ and a\nnewline"` {
		t.Errorf("notes written as %s, want JSON escapes", got)
	}
}

// objectKeys returns the keys of a JSON object in the order they appear,
// with their raw values.
func objectKeys(t *testing.T, obj json.RawMessage) ([]string, []json.RawMessage) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatalf("not a JSON object: %s", obj)
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	var keys []string
	var values []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys, values = append(keys, tok.(string)), append(values, v)
	}
	return keys, values
}

// TestSetListsWriteEachSelection guards the sharing of one resolved
// selection among the sets of a page: nodes and edges.node hold the same
// sets under different selections, images can be aliased with different
// selections, and @skip depends on the request's variables. Every set of
// the page must come out exactly as the set query writes it alone.
func TestSetListsWriteEachSelection(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for i := range 3 {
		h.mustCreateSet(t, token, map[string]any{
			"title": fmt.Sprintf("Set %d", i), "theme": "City", "notes": "n",
			"images": []map[string]any{
				{"imageUrl": fmt.Sprintf("https://img.example.com/%d/a.jpg", i)},
				{"imageUrl": fmt.Sprintf("https://img.example.com/%d/b.jpg", i), "position": 5},
			},
		})
	}
	const nodeSel = `id title a: images { id } b: images { imageUrl position } notes @skip(if: $skip)`
	const edgeSel = `id theme images { setId __typename }`
	list := `query($skip: Boolean!) { sets(first: 10) {
		nodes { ` + nodeSel + ` }
		edges { node { ` + edgeSel + ` } } } }`
	one := func(sel string) string {
		vars := `$id: UUID!`
		if strings.Contains(sel, "$skip") {
			vars += `, $skip: Boolean!`
		}
		return `query(` + vars + `) { set(id: $id) { ` + sel + ` } }`
	}
	for _, skip := range []bool{false, true} {
		var page struct {
			Sets struct {
				Nodes []json.RawMessage
				Edges []struct{ Node json.RawMessage }
			}
		}
		mustOK(t, h.do(t, token, list, map[string]any{"skip": skip}), &page)
		if len(page.Sets.Nodes) != 3 || len(page.Sets.Edges) != 3 {
			t.Fatalf("skip=%v: %d nodes, %d edges, want 3 of each", skip, len(page.Sets.Nodes), len(page.Sets.Edges))
		}
		// The selection itself, checked once: the comparisons below share
		// the code that resolves it.
		keys, values := objectKeys(t, page.Sets.Nodes[0])
		want := []string{"id", "title", "a", "b", "notes"}
		if skip {
			want = want[:4]
		}
		if diff := cmp.Diff(want, keys); diff != "" {
			t.Errorf("skip=%v: node keys (-want +got):\n%s", skip, diff)
		}
		for i, wantImage := range [][]string{{"id"}, {"imageUrl", "position"}} {
			var images []json.RawMessage
			if err := json.Unmarshal(values[2+i], &images); err != nil || len(images) != 2 {
				t.Fatalf("%s = %s, want 2 images", keys[2+i], values[2+i])
			}
			if got, _ := objectKeys(t, images[0]); !slices.Equal(got, wantImage) {
				t.Errorf("images under %s have keys %v, want %v", keys[2+i], got, wantImage)
			}
		}
		for i, node := range page.Sets.Nodes {
			var id struct{ ID string }
			if err := json.Unmarshal(node, &id); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				sel string
				got json.RawMessage
			}{{nodeSel, node}, {edgeSel, page.Sets.Edges[i].Node}} {
				var alone struct{ Set json.RawMessage }
				vars := map[string]any{"id": id.ID}
				if strings.Contains(c.sel, "$skip") {
					vars["skip"] = skip
				}
				mustOK(t, h.do(t, token, one(c.sel), vars), &alone)
				if string(c.got) != string(alone.Set) {
					t.Errorf("skip=%v, set %s under {%s}:\n in the page %s\n alone       %s", skip, id.ID, c.sel, c.got, alone.Set)
				}
			}
		}
	}
}

// A response carries its length: clients and proxies see the whole body's
// size up front, and net/http sends it in one piece rather than chunked.
func TestResponsesCarryContentLength(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for i := range 20 { // well over net/http's 2 KB before it would chunk
		h.mustCreateSet(t, token, map[string]any{"title": fmt.Sprintf("A long enough title, number %d", i)})
	}
	for _, q := range []string{`{ sets(first: 20) { nodes { id title createdAt } } }`, `{ nope }`} {
		r := h.do(t, token, q, nil)
		if got, want := r.Header.Get("Content-Length"), fmt.Sprint(len(r.Body)); got != want {
			t.Errorf("%s: Content-Length %q, body of %s bytes", q, got, want)
		}
	}
}
