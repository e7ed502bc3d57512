//go:build e2e

package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReadYourWritesAcrossInstances writes and then reads on the very
// next request, which a round-robin balancer sends to another instance,
// whose reads go to a replica: every read must see the write before it.
func TestReadYourWritesAcrossInstances(t *testing.T) {
	tg := mustTarget(t)
	token := tg.newUser(t)
	const read = `query($id: UUID!) { set(id: $id) { title } sets { totalCount nodes { title } } }`
	type answer struct {
		Set  *struct{ Title string }
		Sets struct {
			TotalCount int
			Nodes      []struct{ Title string }
		}
	}
	var writers, readers []string
	var id string
	for i := range 20 {
		title := "Round " + string(rune('A'+i))
		var w response
		if i == 0 {
			var d struct {
				CreateSet struct{ Set struct{ ID string } }
			}
			w = tg.mustDo(t, token, createSet, map[string]any{"in": map[string]any{"title": title}}, &d)
			id = d.CreateSet.Set.ID
		} else {
			w = tg.mustDo(t, token, `mutation($id: UUID!, $t: String!) { updateSet(id: $id, input: {title: $t}) { id } }`,
				map[string]any{"id": id, "t": title}, nil)
		}
		var got answer
		r := tg.mustDo(t, token, read, map[string]any{"id": id}, &got)
		writers, readers = append(writers, w.instance), append(readers, r.instance)
		if got.Set == nil || got.Set.Title != title || got.Sets.TotalCount != 1 || got.Sets.Nodes[0].Title != title {
			t.Errorf("round %d: wrote %q through %q, read through %q: %s", i, title, w.instance, r.instance, describe(got))
		}
	}
	other := 0
	for i := range writers {
		if writers[i] != "" && writers[i] != readers[i] {
			other++
		}
	}
	t.Logf("instances: writes %v, reads %v; %d of %d reads on another instance than their write",
		writers, readers, other, len(writers))
	if distinct(readers) > 0 && other == 0 {
		t.Errorf("no read landed on another instance than its write: the test proved nothing about instances")
	}
}

// TestGalleryByTheme: a theme's page, in piece-count order, with its total,
// and the themes with their counts.
func TestGalleryByTheme(t *testing.T) {
	tg := mustTarget(t)
	token := tg.newUser(t)
	for _, s := range []map[string]any{
		{"title": "X-wing", "theme": "Star Wars", "pieceCount": 474},
		{"title": "Millennium Falcon", "theme": "Star Wars", "pieceCount": 7541, "quantity": 2},
		{"title": "Liebherr R 9800", "theme": "Technic", "pieceCount": 4108},
	} {
		tg.mustCreateSet(t, token, s)
	}
	var got struct {
		Sets struct {
			TotalCount int
			Nodes      []struct{ Title string }
		}
		Themes []struct {
			Theme      string
			SetCount   int
			PieceCount int
		}
	}
	tg.mustDo(t, token, `query($theme: String) {
		sets(filter: {theme: $theme}, orderBy: [{field: PIECE_COUNT, direction: DESC}], first: 10) { totalCount nodes { title } }
		themes { theme setCount pieceCount } }`, map[string]any{"theme": "Star Wars"}, &got)
	if got.Sets.TotalCount != 2 || len(got.Sets.Nodes) != 2 ||
		got.Sets.Nodes[0].Title != "Millennium Falcon" || got.Sets.Nodes[1].Title != "X-wing" {
		t.Errorf("Star Wars page: %s, want Millennium Falcon then X-wing, total 2", describe(got.Sets))
	}
	want := map[string][2]int{"Star Wars": {2, 474 + 2*7541}, "Technic": {1, 4108}}
	if len(got.Themes) != len(want) {
		t.Errorf("themes: %s, want %v", describe(got.Themes), want)
	}
	for _, th := range got.Themes {
		if w, ok := want[th.Theme]; !ok || w != [2]int{th.SetCount, th.PieceCount} {
			t.Errorf("theme %q: sets %d, pieces %d; want %v", th.Theme, th.SetCount, th.PieceCount, w)
		}
	}
}

// TestUpdateAndDelete: a patch changes what it names, clears what it
// nulls, leaves the rest; a deleted set is gone, and deleting it again is
// NOT_FOUND.
func TestUpdateAndDelete(t *testing.T) {
	tg := mustTarget(t)
	token := tg.newUser(t)
	id := tg.mustCreateSet(t, token, map[string]any{"title": "Tower Bridge", "store": "LEGO Store", "pieceCount": 4295})
	var got struct {
		UpdateSet struct {
			Title      string
			IsBuilt    bool
			Store      *string
			Notes      *string
			PieceCount int
		}
	}
	tg.mustDo(t, token, `mutation($id: UUID!, $in: UpdateSetInput!) { updateSet(id: $id, input: $in) { title isBuilt store notes pieceCount } }`,
		map[string]any{"id": id, "in": map[string]any{"isBuilt": true, "notes": "built in a weekend", "store": nil}}, &got)
	u := got.UpdateSet
	if u.Title != "Tower Bridge" || !u.IsBuilt || u.Store != nil || u.Notes == nil || *u.Notes != "built in a weekend" || u.PieceCount != 4295 {
		t.Errorf("after the patch: %s", describe(u))
	}
	const del = `mutation($id: UUID!) { deleteSet(id: $id) { deletedId } }`
	var d struct{ DeleteSet struct{ DeletedID string } }
	tg.mustDo(t, token, del, map[string]any{"id": id}, &d)
	if d.DeleteSet.DeletedID != id {
		t.Errorf("deletedId %q, want %q", d.DeleteSet.DeletedID, id)
	}
	var after struct{ Set *struct{ ID string } }
	tg.mustDo(t, token, `query($id: UUID!) { set(id: $id) { id } }`, map[string]any{"id": id}, &after)
	if after.Set != nil {
		t.Errorf("set(id) after deleteSet: %s, want null", describe(after.Set))
	}
	r := tg.do(t, token, del, map[string]any{"id": id}, nil)
	if len(r.errors) != 1 || r.errors[0].Extensions.Code != "NOT_FOUND" {
		t.Errorf("deleting it again: %+v, want one NOT_FOUND", r.errors)
	}
}

// TestWishlist: an item is listed while wanted, acquiring it makes a set
// linked to it, and it then counts as owned.
func TestWishlist(t *testing.T) {
	tg := mustTarget(t)
	token := tg.newUser(t)
	var added struct{ AddWishlistItem struct{ ID string } }
	tg.mustDo(t, token, `mutation($in: WishlistItemInput!) { addWishlistItem(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"title": "Titanic", "setNumber": "10294", "theme": "Icons", "priority": 1, "targetPrice": "599.99"}}, &added)
	item := added.AddWishlistItem.ID
	const list = `query($acquired: Boolean) { wishlist(filter: {acquired: $acquired}) { totalCount nodes { id title priority targetPrice ownedCount } } }`
	var wanted struct {
		Wishlist struct {
			TotalCount int
			Nodes      []struct {
				ID, Title, TargetPrice string
				Priority, OwnedCount   int
			}
		}
	}
	tg.mustDo(t, token, list, map[string]any{"acquired": false}, &wanted)
	if wanted.Wishlist.TotalCount != 1 || wanted.Wishlist.Nodes[0].ID != item || wanted.Wishlist.Nodes[0].TargetPrice != "599.99" ||
		wanted.Wishlist.Nodes[0].OwnedCount != 0 {
		t.Errorf("still wanted: %s", describe(wanted.Wishlist))
	}
	var acq struct {
		AcquireWishlistItem struct {
			Set struct {
				ID, Title          string
				CanonicalSetNumber string
				WishlistItem       struct{ ID string }
			}
			WishlistItem struct {
				AcquiredAt *time.Time
				OwnedCount int
			}
		}
	}
	tg.mustDo(t, token, `mutation($id: UUID!, $in: CreateSetInput) { acquireWishlistItem(id: $id, input: $in) {
		set { id title canonicalSetNumber wishlistItem { id } } wishlistItem { acquiredAt ownedCount } } }`,
		map[string]any{"id": item, "in": map[string]any{"title": "Titanic", "purchasePrice": "579.99"}}, &acq)
	a := acq.AcquireWishlistItem
	if a.Set.CanonicalSetNumber != "10294-1" || a.Set.WishlistItem.ID != item || a.WishlistItem.AcquiredAt == nil || a.WishlistItem.OwnedCount != 1 {
		t.Errorf("acquired: %s", describe(a))
	}
	var still struct{ Wishlist struct{ TotalCount int } }
	tg.mustDo(t, token, list, map[string]any{"acquired": false}, &still)
	if still.Wishlist.TotalCount != 0 {
		t.Errorf("wanted after acquiring: %d items, want 0", still.Wishlist.TotalCount)
	}
}

// change is one entry of the change log, as subscriptions and changes()
// show it.
type change struct {
	Cursor   string
	Kind     string
	EntityID string
	Set      *struct{ Title string }
}

// TestSubscriptionThroughTheBalancer: a graphql-transport-ws socket
// through the balancer gets the change a mutation made over HTTP (on
// whichever instance took it).
func TestSubscriptionThroughTheBalancer(t *testing.T) {
	tg := mustTarget(t)
	token := tg.newUser(t)
	// Resuming from changesCursor, not "from now": the socket's subscribe
	// has no acknowledgement, and a change made before the server had
	// registered it would otherwise be missed by design.
	var cur struct{ ChangesCursor string }
	tg.mustDo(t, token, `{ changesCursor }`, nil, &cur)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s := tg.mustSubscribe(t, ctx, token, `subscription($after: String) { collectionChanged(after: $after) { cursor kind entityId set { title } } }`,
		map[string]any{"after": cur.ChangesCursor})
	id := tg.mustCreateSet(t, token, map[string]any{"title": "Live through HAProxy"})
	m := s.mustRead(t, ctx)
	if m.Type != "next" || m.ID != "1" {
		t.Fatalf("first message: %+v, want next for subscription 1", m)
	}
	var p struct {
		Data   struct{ CollectionChanged change }
		Errors []gqlError
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	c := p.Data.CollectionChanged
	if len(p.Errors) > 0 || c.Kind != "SET_CHANGED" || c.EntityID != id || c.Set == nil || c.Set.Title != "Live through HAProxy" {
		t.Errorf("change: %s, want SET_CHANGED of %s titled Live through HAProxy", m.Payload, id)
	}
}

// TestChangesPolling: changes(after) from a cursor read before a write
// lists that write, and resuming from its endCursor lists nothing more.
func TestChangesPolling(t *testing.T) {
	tg := mustTarget(t)
	token := tg.newUser(t)
	var cur struct{ ChangesCursor string }
	tg.mustDo(t, token, `{ changesCursor }`, nil, &cur)
	id := tg.mustCreateSet(t, token, map[string]any{"title": "Polled"})
	tg.mustDo(t, token, `mutation($id: UUID!) { deleteSet(id: $id) { deletedId } }`, map[string]any{"id": id}, nil)
	const poll = `query($after: String!) { changes(after: $after, first: 10) { nodes { cursor kind entityId } endCursor hasNextPage } }`
	var got struct {
		Changes struct {
			Nodes       []change
			EndCursor   string
			HasNextPage bool
		}
	}
	tg.mustDo(t, token, poll, map[string]any{"after": cur.ChangesCursor}, &got)
	var kinds []string
	for _, n := range got.Changes.Nodes {
		if n.EntityID != id {
			t.Errorf("a change of %s, want only %s", n.EntityID, id)
		}
		kinds = append(kinds, n.Kind)
	}
	if strings.Join(kinds, ",") != "SET_CHANGED,SET_DELETED" || got.Changes.HasNextPage {
		t.Errorf("changes after the cursor: %s, want SET_CHANGED then SET_DELETED, no next page", describe(got.Changes))
	}
	var rest struct{ Changes struct{ Nodes []change } }
	tg.mustDo(t, token, poll, map[string]any{"after": got.Changes.EndCursor}, &rest)
	if len(rest.Changes.Nodes) != 0 {
		t.Errorf("after endCursor: %s, want nothing", describe(rest.Changes.Nodes))
	}
}

// TestUnauthenticatedThroughTheBalancer: the balancer passes the API's
// 401 and its challenge through unchanged.
func TestUnauthenticatedThroughTheBalancer(t *testing.T) {
	tg := mustTarget(t)
	r := tg.do(t, "", `{ me { id } }`, nil, nil)
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") ||
		len(r.errors) != 1 || r.errors[0].Extensions.Code != "UNAUTHENTICATED" {
		t.Errorf("no token: HTTP %d, WWW-Authenticate %q, errors %+v; want 401, Bearer, UNAUTHENTICATED",
			r.status, r.header.Get("WWW-Authenticate"), r.errors)
	}
}
