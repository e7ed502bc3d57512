package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// wishFields selects every field of WishlistItem.
const wishFields = `id title setNumber canonicalSetNumber theme priority targetPrice notes acquiredAt
	ownedCount createdAt updatedAt`

// wishJSON is a WishlistItem as the API returns it.
type wishJSON struct {
	ID                 string  `json:"id"`
	Title              string  `json:"title"`
	SetNumber          *string `json:"setNumber"`
	CanonicalSetNumber *string `json:"canonicalSetNumber"`
	Theme              *string `json:"theme"`
	Priority           int     `json:"priority"`
	TargetPrice        *string `json:"targetPrice"`
	Notes              *string `json:"notes"`
	AcquiredAt         *string `json:"acquiredAt"`
	OwnedCount         int     `json:"ownedCount"`
	CreatedAt          string  `json:"createdAt"`
	UpdatedAt          string  `json:"updatedAt"`
}

const (
	addWishMutation = `mutation($input: WishlistItemInput!) { addWishlistItem(input: $input) { ` + wishFields + ` } }`
	updWishMutation = `mutation($id: UUID!, $input: UpdateWishlistItemInput!) {
		updateWishlistItem(id: $id, input: $input) { ` + wishFields + ` } }`
	acquireMutation = `mutation($id: UUID!, $input: CreateSetInput) { acquireWishlistItem(id: $id, input: $input) {
		set { ` + setFields + ` wishlistItem { id acquiredAt ownedCount } } wishlistItem { ` + wishFields + ` } } }`
)

func (h *harness) mustAddWish(t *testing.T, token string, input map[string]any) wishJSON {
	t.Helper()
	return mustOKData[struct{ AddWishlistItem wishJSON }](t, h, token, addWishMutation, map[string]any{"input": input}).AddWishlistItem
}

func (h *harness) wish(t *testing.T, token, id string) *wishJSON {
	t.Helper()
	return mustOKData[struct{ WishlistItem *wishJSON }](t, h, token,
		`query($id: UUID!) { wishlistItem(id: $id) { `+wishFields+` } }`, map[string]any{"id": id}).WishlistItem
}

func TestWishlistItemWrites(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)

	bare := h.mustAddWish(t, token, map[string]any{"title": "  Falcon "})
	want := wishJSON{ID: bare.ID, Title: "Falcon", Priority: 3, CreatedAt: bare.CreatedAt, UpdatedAt: bare.UpdatedAt}
	if diff := cmp.Diff(want, bare); diff != "" {
		t.Errorf("item with only a title (-want +got):\n%s", diff)
	}

	full := h.mustAddWish(t, token, map[string]any{"title": "Castle", "setNumber": " 10305 ", "theme": "Icons",
		"priority": 1, "targetPrice": 349.9, "notes": "for the shelf", "acquiredAt": "2024-05-01T12:00:00+02:00"})
	want = wishJSON{ID: full.ID, Title: "Castle", SetNumber: ptr("10305"), CanonicalSetNumber: ptr("10305-1"),
		Theme: ptr("Icons"), Priority: 1, TargetPrice: ptr("349.90"), Notes: ptr("for the shelf"),
		AcquiredAt: ptr("2024-05-01T10:00:00Z"), CreatedAt: full.CreatedAt, UpdatedAt: full.UpdatedAt}
	if diff := cmp.Diff(want, full); diff != "" {
		t.Errorf("item with every field (-want +got):\n%s", diff)
	}
	if read := h.wish(t, token, full.ID); read == nil || !cmp.Equal(*read, full) {
		t.Errorf("read back: got %+v, want %+v", read, full)
	}

	t.Run("patch", func(t *testing.T) {
		same := mustOKData[struct{ UpdateWishlistItem wishJSON }](t, h, token, updWishMutation,
			map[string]any{"id": full.ID, "input": map[string]any{}}).UpdateWishlistItem
		if diff := cmp.Diff(full, same); diff != "" {
			t.Errorf("empty patch changed (-before +after):\n%s", diff)
		}
		got := mustOKData[struct{ UpdateWishlistItem wishJSON }](t, h, token, updWishMutation, map[string]any{
			"id": full.ID, "input": map[string]any{"priority": 5, "setNumber": "10305-2", "targetPrice": nil,
				"notes": nil, "acquiredAt": nil},
		}).UpdateWishlistItem
		w := full
		w.Priority, w.SetNumber, w.CanonicalSetNumber = 5, ptr("10305-2"), ptr("10305-2")
		w.TargetPrice, w.Notes, w.AcquiredAt, w.UpdatedAt = nil, nil, nil, got.UpdatedAt
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("after the patch (-want +got):\n%s", diff)
		}
		if got.UpdatedAt <= full.UpdatedAt {
			t.Errorf("updatedAt %s did not move past %s", got.UpdatedAt, full.UpdatedAt)
		}
	})

	t.Run("bad input writes nothing", func(t *testing.T) {
		before := h.snapshotTable(t, "wishlist_items")
		for _, tc := range []struct {
			mutation string
			vars     map[string]any
			field    string
		}{
			{addWishMutation, map[string]any{"input": map[string]any{"title": " "}}, "input.title"},
			{addWishMutation, map[string]any{"input": map[string]any{"title": "x", "priority": 0}}, "input.priority"},
			{addWishMutation, map[string]any{"input": map[string]any{"title": "x", "priority": 6}}, "input.priority"},
			{addWishMutation, map[string]any{"input": map[string]any{"title": "x", "targetPrice": "-1"}}, "input.targetPrice"},
			{addWishMutation, map[string]any{"input": map[string]any{"title": "x", "targetPrice": "1.005"}}, "input.targetPrice"},
			{addWishMutation, map[string]any{"input": map[string]any{"title": "x", "setNumber": strings.Repeat("7", 51)}}, "input.setNumber"},
			{addWishMutation, map[string]any{"input": map[string]any{"title": "x", "notes": "a\x00b"}}, "input.notes"},
			{addWishMutation, map[string]any{"input": map[string]any{"title": "x", "acquiredAt": "1800-01-01T00:00:00Z"}}, "input.acquiredAt"},
			{updWishMutation, map[string]any{"id": full.ID, "input": map[string]any{"title": nil}}, "input.title"},
			{updWishMutation, map[string]any{"id": full.ID, "input": map[string]any{"priority": nil}}, "input.priority"},
		} {
			mustFail(t, h.do(t, token, tc.mutation, tc.vars), "BAD_USER_INPUT", tc.field)
		}
		if after := h.snapshotTable(t, "wishlist_items"); after != before {
			t.Errorf("rejected writes changed wishlist_items:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("delete unlinks its sets", func(t *testing.T) {
		set := h.mustCreateSet(t, token, map[string]any{"title": "Castle", "wishlistItemId": bare.ID})
		del := mustOKData[struct{ DeleteWishlistItem struct{ DeletedID string } }](t, h, token,
			`mutation($id: UUID!) { deleteWishlistItem(id: $id) { deletedId } }`, map[string]any{"id": bare.ID})
		if del.DeleteWishlistItem.DeletedID != bare.ID {
			t.Errorf("deletedId %q, want %q", del.DeleteWishlistItem.DeletedID, bare.ID)
		}
		if got := h.wish(t, token, bare.ID); got != nil {
			t.Errorf("deleted item still reads as %+v", got)
		}
		read := mustOKData[struct{ Set setJSON }](t, h, token, `query($id: UUID!) { set(id: $id) { `+setFields+` } }`,
			map[string]any{"id": set.ID})
		if read.Set.ID != set.ID || read.Set.WishlistItemID != nil {
			t.Errorf("set after its item was deleted: got %+v, want it kept with wishlistItemId null", read.Set)
		}
		mustFail(t, h.do(t, token, `mutation($id: UUID!) { deleteWishlistItem(id: $id) { deletedId } }`,
			map[string]any{"id": bare.ID}), "NOT_FOUND", "")
	})
}

// snapshotTable returns every row of table as JSON, in id order.
func (h *harness) snapshotTable(t *testing.T, table string) string {
	t.Helper()
	var out string
	if err := h.check.NewRaw(fmt.Sprintf(`SELECT coalesce(json_agg(x ORDER BY x.id), '[]')::text FROM %s x`, table)).
		Scan(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWishlistOwnedCount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	_, otherToken := h.newUser(t)
	item := h.mustAddWish(t, token, map[string]any{"title": "Falcon", "setNumber": "75192"})
	for _, n := range []string{"75192-1", "75192-01", "75192-2"} {
		h.mustCreateSet(t, token, map[string]any{"title": "Falcon", "setNumber": n})
	}
	h.mustCreateSet(t, otherToken, map[string]any{"title": "Someone else's", "setNumber": "75192-1"})
	if got := h.wish(t, token, item.ID); got == nil || got.OwnedCount != 2 {
		t.Errorf("ownedCount: got %+v, want 2 (75192-1 and 75192-01, not 75192-2 or another user's)", got)
	}
	noNumber := h.mustAddWish(t, token, map[string]any{"title": "Mystery"})
	if noNumber.OwnedCount != 0 {
		t.Errorf("ownedCount without a set number: got %d, want 0", noNumber.OwnedCount)
	}
}

func TestWishlistOwnership(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	alice, aliceToken := h.newUser(t)
	_, bobToken := h.newUser(t)
	item := h.mustAddWish(t, aliceToken, map[string]any{"title": "Falcon", "setNumber": "75192"})
	aliceSet := h.mustCreateSet(t, aliceToken, map[string]any{"title": "Falcon"})
	bobSet := h.mustCreateSet(t, bobToken, map[string]any{"title": "Bob's"})
	before := h.snapshot(t, alice) + h.snapshotTable(t, "wishlist_items") + h.snapshotTable(t, "sets")

	if got := h.wish(t, bobToken, item.ID); got != nil {
		t.Errorf("bob reads alice's item: %+v", got)
	}
	var list struct {
		Wishlist struct{ TotalCount int }
	}
	mustOK(t, h.do(t, bobToken, `{ wishlist { totalCount } }`, nil), &list)
	if list.Wishlist.TotalCount != 0 {
		t.Errorf("bob's wishlist counts %d items, want 0", list.Wishlist.TotalCount)
	}
	for name, r := range map[string]response{
		"update":  h.do(t, bobToken, updWishMutation, map[string]any{"id": item.ID, "input": map[string]any{"title": "Mine"}}),
		"delete":  h.do(t, bobToken, `mutation($id: UUID!) { deleteWishlistItem(id: $id) { deletedId } }`, map[string]any{"id": item.ID}),
		"acquire": h.do(t, bobToken, acquireMutation, map[string]any{"id": item.ID}),
	} {
		t.Run(name, func(t *testing.T) { mustFail(t, r, "NOT_FOUND", "") })
	}
	// A set may point only at its owner's items: another user's or a
	// missing one is NOT_FOUND on the field, on create and on update.
	missing := "00000000-0000-4000-8000-000000000000"
	for _, id := range []string{item.ID, missing} {
		mustFail(t, h.do(t, bobToken, createSetMutation, map[string]any{"input": map[string]any{"title": "x", "wishlistItemId": id}}),
			"NOT_FOUND", "input.wishlistItemId")
		mustFail(t, h.do(t, bobToken, updateSetMutation, map[string]any{"id": bobSet.ID, "input": map[string]any{"wishlistItemId": id}}),
			"NOT_FOUND", "input.wishlistItemId")
	}
	mustFail(t, h.do(t, aliceToken, updateSetMutation, map[string]any{"id": aliceSet.ID, "input": map[string]any{"wishlistItemId": missing}}),
		"NOT_FOUND", "input.wishlistItemId")
	if after := h.snapshot(t, alice) + h.snapshotTable(t, "wishlist_items") + h.snapshotTable(t, "sets"); after != before {
		t.Errorf("refused requests changed data:\nbefore %s\nafter  %s", before, after)
	}
}

func TestAcquireWishlistItem(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	type payload struct {
		AcquireWishlistItem struct {
			Set struct {
				setJSON
				WishlistItem *struct {
					ID         string
					AcquiredAt *string
					OwnedCount int
				}
			}
			WishlistItem wishJSON
		}
	}

	t.Run("from the item", func(t *testing.T) {
		item := h.mustAddWish(t, token, map[string]any{"title": "Falcon", "setNumber": "75192", "theme": "Star Wars"})
		got := mustOKData[payload](t, h, token, acquireMutation, map[string]any{"id": item.ID}).AcquireWishlistItem
		s := got.Set
		if s.Title != "Falcon" || deref(s.SetNumber) != "75192" || deref(s.Theme) != "Star Wars" || s.Quantity != 1 ||
			deref(s.WishlistItemID) != item.ID {
			t.Errorf("set: got %+v, want Falcon 75192 Star Wars linked to %s", s.setJSON, item.ID)
		}
		if s.WishlistItem == nil || s.WishlistItem.ID != item.ID || s.WishlistItem.AcquiredAt == nil || s.WishlistItem.OwnedCount != 1 {
			t.Errorf("set.wishlistItem: got %+v, want the item, acquired, owned once", s.WishlistItem)
		}
		w := got.WishlistItem
		if w.AcquiredAt == nil || !utcStamp.MatchString(*w.AcquiredAt) || w.OwnedCount != 1 {
			t.Errorf("item: got %+v, want acquiredAt set and ownedCount 1", w)
		}
		// Twice is refused, and writes nothing.
		sets := h.count(t, "sets")
		mustFail(t, h.do(t, token, acquireMutation, map[string]any{"id": item.ID}), "BAD_USER_INPUT", "id")
		if n := h.count(t, "sets"); n != sets {
			t.Errorf("sets after a refused second acquire: %d, want %d", n, sets)
		}
	})

	t.Run("input overrides", func(t *testing.T) {
		item := h.mustAddWish(t, token, map[string]any{"title": "Castle", "setNumber": "10305", "theme": "Icons"})
		got := mustOKData[payload](t, h, token, acquireMutation, map[string]any{"id": item.ID, "input": map[string]any{
			"title": "Lion Knights' Castle", "theme": nil, "purchasePrice": "399.99",
			"images": []map[string]any{{"imageUrl": "https://img.example/c.jpg"}},
		}}).AcquireWishlistItem
		s := got.Set
		if s.Title != "Lion Knights' Castle" || deref(s.SetNumber) != "10305" || s.Theme != nil ||
			deref(s.PurchasePrice) != "399.99" || len(s.Images) != 1 || deref(s.WishlistItemID) != item.ID {
			t.Errorf("set: got %+v, want the input's title, no theme, the item's number, one image", s.setJSON)
		}
	})

	t.Run("one transaction", func(t *testing.T) {
		item := h.mustAddWish(t, token, map[string]any{"title": "Ship"})
		h.mustExec(t, `CREATE FUNCTION refuse_images() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'images refused by the test'; END $$`)
		h.mustExec(t, `CREATE TRIGGER refuse BEFORE INSERT ON set_images FOR EACH ROW EXECUTE FUNCTION refuse_images()`)
		defer h.mustExec(t, `DROP TRIGGER refuse ON set_images`)
		sets := h.count(t, "sets")
		mustFail(t, h.do(t, token, acquireMutation, map[string]any{"id": item.ID, "input": map[string]any{
			"title": "Ship", "images": []map[string]any{{"imageUrl": "https://img.example/s.jpg"}},
		}}), "INTERNAL_SERVER_ERROR", "")
		if n := h.count(t, "sets"); n != sets {
			t.Errorf("sets after a failed acquire: %d, want %d", n, sets)
		}
		if got := h.wish(t, token, item.ID); got == nil || got.AcquiredAt != nil {
			t.Errorf("item after a failed acquire: %+v, want it still wanted", got)
		}
	})
}

// TestWishlistPagination pages through every order both ways and checks
// the pages against the same list sorted here, with pageInfo on each page.
func TestWishlistPagination(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	_, otherToken := h.newUser(t)
	var all []wishJSON
	for i := range 13 {
		in := map[string]any{"title": fmt.Sprintf("Item %02d", (i*7)%13), "priority": 1 + i%5,
			"theme": []string{"City", "Space"}[i%2]}
		if i%3 != 0 {
			in["targetPrice"] = fmt.Sprintf("%d.50", 10+(i*5)%4) // ties and NULLs
		}
		if i%4 == 0 {
			in["acquiredAt"] = "2024-01-01T00:00:00Z"
		}
		all = append(all, h.mustAddWish(t, token, in))
	}
	h.mustAddWish(t, otherToken, map[string]any{"title": "Not mine"})

	const q = `query($f: WishlistFilter, $o: [WishlistOrder!], $first: Int, $after: String, $last: Int, $before: String) {
		wishlist(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
			totalCount nodes { id } edges { cursor node { id } }
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	type page struct {
		Wishlist struct {
			TotalCount int
			Nodes      []struct{ ID string }
			Edges      []struct {
				Cursor string
				Node   struct{ ID string }
			}
			PageInfo struct {
				HasNextPage, HasPreviousPage bool
				StartCursor, EndCursor       *string
			}
		}
	}
	value := func(w wishJSON, field string) any {
		switch field {
		case "CREATED_AT":
			// Fixed width, so that strings compare as instants do.
			at, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
			if err != nil {
				t.Fatal(err)
			}
			return at.Format("2006-01-02T15:04:05.000000000")
		case "PRIORITY":
			return fmt.Sprintf("%d", w.Priority)
		case "TITLE":
			return w.Title
		}
		if w.TargetPrice == nil {
			return nil
		}
		return *w.TargetPrice // all of the same width here
	}
	for _, field := range []string{"CREATED_AT", "PRIORITY", "TITLE", "TARGET_PRICE"} {
		for _, dir := range []string{"ASC", "DESC"} {
			t.Run(field+"_"+dir, func(t *testing.T) {
				want := slices.Clone(all)
				slices.SortStableFunc(want, func(a, b wishJSON) int {
					va, vb := value(a, field), value(b, field)
					c := 0
					switch {
					case va == nil && vb == nil:
					case va == nil:
						return 1 // NULLs last both ways
					case vb == nil:
						return -1
					default:
						c = strings.Compare(va.(string), vb.(string))
					}
					if c == 0 {
						c = strings.Compare(a.ID, b.ID) // the id tiebreaker, same direction
					}
					if dir == "DESC" {
						c = -c
					}
					return c
				})
				var wantIDs []string
				for _, w := range want {
					wantIDs = append(wantIDs, w.ID)
				}
				order := []orderKey{{field, dir}}
				// Forward by 5, then backward from the end by 5.
				var fwd []string
				var after any
				for pages := 0; ; pages++ {
					p := mustOKData[page](t, h, token, q, map[string]any{"o": order, "first": 5, "after": after}).Wishlist
					if p.TotalCount != 13 {
						t.Fatalf("totalCount %d, want 13", p.TotalCount)
					}
					for i, n := range p.Nodes {
						fwd = append(fwd, n.ID)
						if p.Edges[i].Node.ID != n.ID {
							t.Fatalf("edges and nodes disagree")
						}
					}
					if p.PageInfo.HasPreviousPage != (pages > 0) {
						t.Errorf("page %d forward: hasPreviousPage %v", pages, p.PageInfo.HasPreviousPage)
					}
					if !p.PageInfo.HasNextPage {
						break
					}
					after = *p.PageInfo.EndCursor
				}
				if diff := cmp.Diff(wantIDs, fwd); diff != "" {
					t.Errorf("forward (-want +got):\n%s", diff)
				}
				var back []string
				var before any
				for pages := 0; ; pages++ {
					p := mustOKData[page](t, h, token, q, map[string]any{"o": order, "last": 5, "before": before}).Wishlist
					ids := []string{}
					for _, n := range p.Nodes {
						ids = append(ids, n.ID)
					}
					back = append(ids, back...)
					if p.PageInfo.HasNextPage != (pages > 0) {
						t.Errorf("page %d backward: hasNextPage %v", pages, p.PageInfo.HasNextPage)
					}
					if !p.PageInfo.HasPreviousPage {
						break
					}
					before = *p.PageInfo.StartCursor
				}
				if diff := cmp.Diff(wantIDs, back); diff != "" {
					t.Errorf("backward (-want +got):\n%s", diff)
				}
			})
		}
	}

	t.Run("filters", func(t *testing.T) {
		count := func(f map[string]any) int {
			return mustOKData[page](t, h, token, q, map[string]any{"f": f}).Wishlist.TotalCount
		}
		wantCount := func(keep func(w wishJSON) bool) int {
			n := 0
			for _, w := range all {
				if keep(w) {
					n++
				}
			}
			return n
		}
		for name, tc := range map[string]struct {
			f    map[string]any
			keep func(w wishJSON) bool
		}{
			"acquired":     {map[string]any{"acquired": true}, func(w wishJSON) bool { return w.AcquiredAt != nil }},
			"not acquired": {map[string]any{"acquired": false}, func(w wishJSON) bool { return w.AcquiredAt == nil }},
			"theme":        {map[string]any{"theme": "City"}, func(w wishJSON) bool { return deref(w.Theme) == "City" }},
			"priority":     {map[string]any{"priority": 2}, func(w wishJSON) bool { return w.Priority == 2 }},
			"search":       {map[string]any{"search": "ITEM 0"}, func(w wishJSON) bool { return strings.HasPrefix(w.Title, "Item 0") }},
		} {
			if got, want := count(tc.f), wantCount(tc.keep); got != want || want == 0 {
				t.Errorf("%s: %d items, want %d (and more than none)", name, got, want)
			}
		}
		mustFail(t, h.do(t, token, q, map[string]any{"f": map[string]any{"priority": 9}}), "BAD_USER_INPUT", "filter.priority")
		mustFail(t, h.do(t, token, q, map[string]any{"first": 101}), "BAD_USER_INPUT", "first")
		mustFail(t, h.do(t, token, q, map[string]any{"after": "bogus"}), "BAD_USER_INPUT", "after")
		// A wishlist cursor is not a position among sets.
		p := mustOKData[page](t, h, token, q, map[string]any{"first": 1}).Wishlist
		mustFail(t, h.do(t, token, `query($a: String) { sets(after: $a) { totalCount } }`,
			map[string]any{"a": *p.PageInfo.EndCursor}), "BAD_USER_INPUT", "after")
	})
}

// TestSetWishlistItemStatements: a page of sets with their wishlist items
// costs one statement more than the page without them, however many sets
// point at items.
func TestSetWishlistItemStatements(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for i := range 12 {
		item := h.mustAddWish(t, token, map[string]any{"title": fmt.Sprintf("Want %d", i), "setNumber": fmt.Sprintf("%d", 1000+i)})
		h.mustCreateSet(t, token, map[string]any{"title": fmt.Sprintf("Got %d", i), "setNumber": fmt.Sprintf("%d-1", 1000+i),
			"wishlistItemId": item.ID})
	}
	h.mustCreateSet(t, token, map[string]any{"title": "Unlinked"})
	h.rec.take()
	count := func(q string) int {
		t.Helper()
		mustOK(t, h.do(t, token, q, nil), nil)
		return len(h.rec.take())
	}
	without := count(`{ sets(first: 100) { nodes { id } } }`)
	var data struct {
		Sets struct {
			Nodes []struct {
				Title        string
				WishlistItem *struct {
					Title      string
					OwnedCount int
				}
			}
		}
	}
	const q = `{ sets(first: 100) { nodes { title wishlistItem { title ownedCount } } } }`
	mustOK(t, h.do(t, token, q, nil), &data)
	if with := len(h.rec.take()); with != without+1 {
		t.Errorf("statements: %d with wishlistItem, %d without; want one more", with, without)
	}
	for _, n := range data.Sets.Nodes {
		switch {
		case n.Title == "Unlinked" && n.WishlistItem != nil:
			t.Errorf("unlinked set has wishlistItem %+v", n.WishlistItem)
		case n.Title != "Unlinked" && (n.WishlistItem == nil || "Got"+n.WishlistItem.Title[4:] != n.Title || n.WishlistItem.OwnedCount != 1):
			t.Errorf("set %q: wishlistItem %+v, want its item, owned once", n.Title, n.WishlistItem)
		}
	}
	if count(`{ sets(first: 100) { edges { node { wishlistItem { id } } } } }`) != without+1 {
		t.Errorf("edges: want one statement more than without wishlistItem")
	}
}
