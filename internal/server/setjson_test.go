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
	wish := h.mustAddWishlistItem(t, token, map[string]any{"title": "Falcon \"UCS\"", "setNumber": "75192",
		"theme": "Star Wars", "priority": 1, "targetPrice": "699.5", "notes": "a\nb", "acquiredAt": "2018-01-02T03:04:05Z"})
	set := h.mustCreateSet(t, token, map[string]any{
		"title": "Millennium Falcon", "setNumber": "75192-1", "store": "LEGO Store",
		"sourceUrl": "https://example.com/75192", "pieceCount": 7541,
		"releaseDate": "2017-10-01T00:00:00Z", "theme": "Star Wars", "tags": []string{"UCS"},
		"notes": "with \"quotes\", a \\ and a\nnewline", "isBuilt": true, "quantity": 2,
		"purchasePrice": "799.99", "tax": "64.00", "shipping": "0.01",
		"purchaseDate":   "2018-01-02T03:04:05.123456Z",
		"wishlistItemId": wish,
		"images": []map[string]any{
			{"imageUrl": "https://img.example.com/1.jpg", "thumbnailUrl": "https://img.example.com/1t.jpg"},
			{"imageUrl": "https://img.example.com/2.jpg", "thumbnailUrl": "https://img.example.com/2t.jpg"},
		},
	})
	// As an upload leaves them, so that every SetImage field has a value.
	h.mustExec(t, `UPDATE set_images SET media_key = 'k.jpg', thumbnail_key = 't.jpg', width = 2048,
		height = 1536, content_type = 'image/jpeg', byte_size = 512000 WHERE set_id = ?`, set.ID)

	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var setSel, imageSel []string
	wantSet := []string{"f_title", "a___typename"}
	for _, f := range schema.Types["Set"].Fields {
		if f.Name == "images" || f.Name == "wishlistItem" || strings.HasPrefix(f.Name, "__") {
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
	var wishSel []string
	wantWish := []string{"c___typename"}
	for _, f := range schema.Types["WishlistItem"].Fields {
		if !strings.HasPrefix(f.Name, "__") {
			wishSel = append(wishSel, "c_"+f.Name+": "+f.Name)
			wantWish = append(wantWish, "c_"+f.Name)
		}
	}
	wishSelection := "{ c___typename: __typename " + strings.Join(wishSel, " ") + " skipped: id @skip(if: true) }"
	wantSet = append(wantSet, "a_images", "a_wishlistItem")
	query := fmt.Sprintf(`query($id: UUID!) { set(id: $id) { ...F a___typename: __typename %s
		a_images: images { b___typename: __typename %s skipped: id @skip(if: true) }
		a_wishlistItem: wishlistItem %s
		skipped: title @skip(if: true) } }
		fragment F on Set { f_title: title }`, strings.Join(setSel, " "), strings.Join(imageSel, " "), wishSelection)
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
	// The item a set writes itself is what gqlgen's executor writes for
	// the same selection, byte for byte.
	item := values[slices.Index(keys, "a_wishlistItem")]
	itemKeys, itemValues := objectKeys(t, item)
	if diff := cmp.Diff(wantWish, itemKeys); diff != "" {
		t.Errorf("WishlistItem keys, in order (-want +got):\n%s", diff)
	}
	for i, k := range itemKeys {
		if string(itemValues[i]) == "null" {
			t.Errorf("WishlistItem field %s is null", k)
		}
	}
	viaExecutor := h.do(t, token, `query($id: UUID!) { wishlistItem(id: $id) `+wishSelection+` }`, map[string]any{"id": wish})
	mustOK(t, viaExecutor, nil)
	var direct struct {
		WishlistItem json.RawMessage `json:"wishlistItem"`
	}
	if err := json.Unmarshal(viaExecutor.Data, &direct); err != nil {
		t.Fatal(err)
	}
	if string(direct.WishlistItem) != string(item) {
		t.Errorf("Set.wishlistItem wrote\n%s\nbut wishlistItem writes\n%s", item, direct.WishlistItem)
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

// TestConnectionWritesEverySchemaField guards graph/model.SetConnection,
// which writes the connection, its edges and its pageInfo itself: every
// field the schema declares on SetConnection, SetEdge and PageInfo must come
// out under its alias, in selection order, through fragments, honouring
// @skip, with the values gqlgen's resolvers gave: the edges' cursors page
// as the pageInfo cursors do, and the edges' nodes are the nodes.
func TestConnectionWritesEverySchemaField(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for i := range 3 {
		h.mustCreateSet(t, token, map[string]any{"title": fmt.Sprint("Set ", i),
			"images": []map[string]any{{"imageUrl": fmt.Sprintf("https://img.example.com/%d.jpg", i)}}})
	}
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	sel := func(typ, prefix string, sub map[string]string) (string, []string) {
		var parts, keys []string
		for _, f := range schema.Types[typ].Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			parts = append(parts, prefix+f.Name+": "+f.Name+" "+sub[f.Name])
			keys = append(keys, prefix+f.Name)
		}
		return strings.Join(parts, " "), keys
	}
	setSel := `{ id title images { imageUrl } }`
	edgeSel, edgeKeys := sel("SetEdge", "e_", map[string]string{"node": setSel})
	infoSel, infoKeys := sel("PageInfo", "p_", nil)
	connSel, connKeys := sel("SetConnection", "c_", map[string]string{
		"edges": "{ e___typename: __typename " + edgeSel + " }", "nodes": setSel,
		"pageInfo": "{ p___typename: __typename " + infoSel + " skipped: endCursor @skip(if: true) }",
	})
	query := `query { sets(first: 2) { ...F c___typename: __typename ` + connSel + ` skipped: totalCount @skip(if: true) } }
		fragment F on SetConnection { f_total: totalCount }`
	var data struct{ Sets json.RawMessage }
	mustOK(t, h.do(t, token, query, nil), &data)

	keys, values := objectKeys(t, data.Sets)
	field := func(k string) json.RawMessage { return values[slices.Index(keys, k)] }
	if diff := cmp.Diff(append([]string{"f_total", "c___typename"}, connKeys...), keys); diff != "" {
		t.Fatalf("SetConnection keys, in order (-want +got):\n%s", diff)
	}
	if string(field("c___typename")) != `"SetConnection"` || string(field("f_total")) != "3" || string(field("c_totalCount")) != "3" {
		t.Errorf("typename %s, totals %s and %s; want SetConnection, 3, 3", field("c___typename"), field("f_total"), field("c_totalCount"))
	}
	var edges []json.RawMessage
	if err := json.Unmarshal(field("c_edges"), &edges); err != nil || len(edges) != 2 {
		t.Fatalf("edges = %s", field("c_edges"))
	}
	var nodes []json.RawMessage
	if err := json.Unmarshal(field("c_nodes"), &nodes); err != nil || len(nodes) != 2 {
		t.Fatalf("nodes = %s", field("c_nodes"))
	}
	var cursors []string
	for i, e := range edges {
		ek, ev := objectKeys(t, e)
		if diff := cmp.Diff(append([]string{"e___typename"}, edgeKeys...), ek); diff != "" {
			t.Fatalf("SetEdge keys (-want +got):\n%s", diff)
		}
		if string(ev[0]) != `"SetEdge"` {
			t.Errorf("edge typename %s", ev[0])
		}
		if got := ev[slices.Index(ek, "e_node")]; string(got) != string(nodes[i]) {
			t.Errorf("edge %d node %s, node %s", i, got, nodes[i])
		}
		var c string
		if err := json.Unmarshal(ev[slices.Index(ek, "e_cursor")], &c); err != nil || c == "" {
			t.Fatalf("edge %d cursor %s", i, ev[slices.Index(ek, "e_cursor")])
		}
		cursors = append(cursors, c)
	}
	pk, pv := objectKeys(t, field("c_pageInfo"))
	if diff := cmp.Diff(append([]string{"p___typename"}, infoKeys...), pk); diff != "" {
		t.Fatalf("PageInfo keys (-want +got):\n%s", diff)
	}
	want := map[string]string{"p___typename": `"PageInfo"`, "p_hasNextPage": "true", "p_hasPreviousPage": "false",
		"p_startCursor": fmt.Sprintf("%q", cursors[0]), "p_endCursor": fmt.Sprintf("%q", cursors[1])}
	for i, k := range pk {
		if string(pv[i]) != want[k] {
			t.Errorf("pageInfo %s = %s, want %s", k, pv[i], want[k])
		}
	}

	// The cursors work: the page after the last edge holds the third set.
	var next struct {
		Sets struct {
			Nodes    []struct{ Title string }
			PageInfo struct{ HasNextPage, HasPreviousPage bool }
		}
	}
	mustOK(t, h.do(t, token, `query($after: String) { sets(first: 2, after: $after) {
		nodes { title } pageInfo { hasNextPage hasPreviousPage } } }`, map[string]any{"after": cursors[1]}), &next)
	if len(next.Sets.Nodes) != 1 || next.Sets.Nodes[0].Title != "Set 0" || next.Sets.PageInfo.HasNextPage || !next.Sets.PageInfo.HasPreviousPage {
		t.Errorf("page after the last cursor: %+v, want Set 0 alone, with a previous page only", next.Sets)
	}
}
