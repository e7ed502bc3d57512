package server_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/models"
)

// orderKey is one entry of orderBy.
type orderKey struct {
	Field     string `json:"field"`
	Direction string `json:"direction"`
}

var orderFields = []string{"CREATED_AT", "UPDATED_AT", "TITLE", "SET_NUMBER", "THEME",
	"PIECE_COUNT", "RELEASE_DATE", "PURCHASE_DATE", "PURCHASE_PRICE"}

// sortValue is s's value for an order field, nil for NULL.
func sortValue(s *models.Set, field string) any {
	orNil := func(v any, null bool) any {
		if null {
			return nil
		}
		return v
	}
	switch field {
	case "CREATED_AT":
		return s.CreatedAt
	case "UPDATED_AT":
		return s.UpdatedAt
	case "TITLE":
		return s.Title
	case "SET_NUMBER":
		return orNil(deref(s.SetNumber), s.SetNumber == nil)
	case "THEME":
		return orNil(deref(s.Theme), s.Theme == nil)
	case "PIECE_COUNT":
		return orNil(deref(s.PieceCount), s.PieceCount == nil)
	case "RELEASE_DATE":
		return orNil(deref(s.ReleaseDate), s.ReleaseDate == nil)
	case "PURCHASE_DATE":
		return orNil(deref(s.PurchaseDate), s.PurchaseDate == nil)
	case "PURCHASE_PRICE":
		return orNil(deref(s.PurchasePrice), s.PurchasePrice == nil)
	}
	panic("unknown order field " + field)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func compareValues(a, b any) int {
	switch a := a.(type) {
	case time.Time:
		return a.Compare(b.(time.Time))
	case string:
		return strings.Compare(a, b.(string))
	case int32:
		return int(a - b.(int32))
	case decimal.Decimal:
		return a.Cmp(b.(decimal.Decimal))
	}
	panic(fmt.Sprintf("cannot compare %T", a))
}

// compareSets is the contract of SPEC §3, written out independently of the
// server: each key in its direction with NULLs last either way, then the
// id in the direction of the last key.
func compareSets(order []orderKey) func(a, b *models.Set) int {
	return func(a, b *models.Set) int {
		for _, o := range order {
			va, vb := sortValue(a, o.Field), sortValue(b, o.Field)
			switch {
			case va == nil && vb == nil:
				continue
			case va == nil:
				return 1
			case vb == nil:
				return -1
			}
			c := compareValues(va, vb)
			if o.Direction == "DESC" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		c := bytes.Compare(a.ID[:], b.ID[:])
		if order[len(order)-1].Direction == "DESC" {
			c = -c
		}
		return c
	}
}

// expectedOrder returns the ids of sets sorted by order.
func expectedOrder(sets []*models.Set, order []orderKey) []string {
	sorted := slices.Clone(sets)
	slices.SortFunc(sorted, compareSets(order))
	ids := make([]string, len(sorted))
	for i, s := range sorted {
		ids[i] = s.ID.String()
	}
	return ids
}

// galleryFixture is 30 sets with NULLs and ties in every nullable sort
// column and ties in the others. Strings use lowercase letters and digits
// only, so any collation sorts them as Go does.
func galleryFixture(user uuid.UUID, n int) []*models.Set {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	titles := []string{"falcon", "castle", "ship", "station", "falcon", "tower", "bridge", "castle"}
	themes := []string{"city", "space", "castle", "technic"}
	sets := make([]*models.Set, n)
	for i := range sets {
		s := &models.Set{ID: uuid.New(), UserID: user, Title: titles[i%len(titles)], Quantity: 1, Tags: []string{},
			CreatedAt: base.Add(time.Duration(i%10) * time.Second),
			UpdatedAt: base.Add(time.Duration(i%7)*time.Minute + 500*time.Microsecond)}
		if i%4 != 0 {
			s.SetNumber = ptr(fmt.Sprintf("%05d-1", 10000+(i%9)*1111))
		}
		if i%5 != 0 {
			s.Theme = ptr(themes[i%4])
		}
		if i%3 != 0 {
			s.PieceCount = ptr(int32(i%6) * 100)
		}
		if i%4 != 1 {
			s.ReleaseDate = ptr(base.AddDate(-3, 0, i%5))
		}
		if i%2 != 0 {
			s.PurchaseDate = ptr(base.AddDate(0, 0, i%4))
		}
		if i%3 != 1 {
			d := decimal.New(int64(i%5)*1000+99, -2)
			s.PurchasePrice = &d
		}
		sets[i] = s
	}
	return sets
}

type pageJSON struct {
	Edges []struct {
		Cursor string
		Node   struct{ ID string }
	}
	Nodes    []struct{ ID string }
	PageInfo struct {
		HasNextPage     bool
		HasPreviousPage bool
		StartCursor     *string
		EndCursor       *string
	}
	TotalCount int
}

func (p pageJSON) ids() []string {
	ids := []string{}
	for _, e := range p.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

const pageQuery = `query($order: [SetOrder!], $first: Int, $after: String, $last: Int, $before: String) {
	sets(orderBy: $order, first: $first, after: $after, last: $last, before: $before) {
		edges { cursor node { id } } nodes { id }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }`

// pageArgs are the arguments of one sets page; zero values are left out.
type pageArgs struct {
	order         []orderKey
	first, last   *int
	after, before *string
}

func (a pageArgs) vars() map[string]any {
	v := map[string]any{}
	if a.order != nil {
		v["order"] = a.order
	}
	if a.first != nil {
		v["first"] = *a.first
	}
	if a.last != nil {
		v["last"] = *a.last
	}
	if a.after != nil {
		v["after"] = *a.after
	}
	if a.before != nil {
		v["before"] = *a.before
	}
	return v
}

// mustPage fetches one page and checks that it is self-consistent: nodes
// are the edges' nodes, and the start and end cursors are the first and
// last edges' cursors.
func (h *harness) mustPage(t *testing.T, token string, a pageArgs) pageJSON {
	t.Helper()
	var data struct{ Sets pageJSON }
	mustOK(t, h.do(t, token, pageQuery, a.vars()), &data)
	p := data.Sets
	nodes := []string{}
	for _, n := range p.Nodes {
		nodes = append(nodes, n.ID)
	}
	if diff := cmp.Diff(p.ids(), nodes); diff != "" {
		t.Fatalf("nodes differ from edges (-edges +nodes):\n%s", diff)
	}
	var start, end *string
	if n := len(p.Edges); n > 0 {
		start, end = &p.Edges[0].Cursor, &p.Edges[n-1].Cursor
	}
	if !cmp.Equal(start, p.PageInfo.StartCursor) || !cmp.Equal(end, p.PageInfo.EndCursor) {
		t.Fatalf("pageInfo cursors %v..%v, want the edges' %v..%v", p.PageInfo.StartCursor, p.PageInfo.EndCursor, start, end)
	}
	return p
}

// pageWant is what one page must hold.
type pageWant struct {
	IDs               []string
	HasNext, HasPrev  bool
	TotalCount        int
	IncludesCursorsOf string
}

func gotPage(p pageJSON) pageWant {
	return pageWant{IDs: p.ids(), HasNext: p.PageInfo.HasNextPage, HasPrev: p.PageInfo.HasPreviousPage, TotalCount: p.TotalCount}
}

// walkForward pages through the whole list with first/after and checks
// every page against want; it returns each set's cursor.
func (h *harness) walkForward(t *testing.T, token string, order []orderKey, size int, want []string) map[string]string {
	t.Helper()
	cursors := map[string]string{}
	var after *string
	for i := 0; ; i++ {
		lo, hi := min(i*size, len(want)), min((i+1)*size, len(want))
		p := h.mustPage(t, token, pageArgs{order: order, first: &size, after: after})
		exp := pageWant{IDs: want[lo:hi], HasNext: hi < len(want), HasPrev: i > 0, TotalCount: len(want)}
		if diff := cmp.Diff(exp, gotPage(p)); diff != "" {
			t.Fatalf("forward page %d (-want +got):\n%s", i, diff)
		}
		for _, e := range p.Edges {
			cursors[e.Node.ID] = e.Cursor
		}
		if !p.PageInfo.HasNextPage {
			return cursors
		}
		after = p.PageInfo.EndCursor
	}
}

// walkBackward pages through the whole list with last/before, from the end.
func (h *harness) walkBackward(t *testing.T, token string, order []orderKey, size int, want []string) {
	t.Helper()
	var before *string
	for j := 0; ; j++ {
		lo, hi := max(len(want)-(j+1)*size, 0), max(len(want)-j*size, 0)
		p := h.mustPage(t, token, pageArgs{order: order, last: &size, before: before})
		exp := pageWant{IDs: want[lo:hi], HasNext: j > 0, HasPrev: lo > 0, TotalCount: len(want)}
		if diff := cmp.Diff(exp, gotPage(p)); diff != "" {
			t.Fatalf("backward page %d from the end (-want +got):\n%s", j, diff)
		}
		if !p.PageInfo.HasPreviousPage {
			return
		}
		before = p.PageInfo.StartCursor
	}
}

// TestPaginationWalks walks every ordering both ways over a collection
// with NULLs and ties: every set exactly once, in the order computed here.
func TestPaginationWalks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	other, _ := h.newUser(t)
	sets := galleryFixture(user, 30)
	h.mustInsertSets(t, sets...)
	h.mustInsertSets(t, galleryFixture(other, 5)...)

	orders := [][]orderKey{
		{{"THEME", "ASC"}, {"PIECE_COUNT", "DESC"}},
		{{"PURCHASE_DATE", "DESC"}, {"TITLE", "ASC"}, {"SET_NUMBER", "DESC"}},
		{{"PIECE_COUNT", "ASC"}, {"CREATED_AT", "ASC"}},
		{{"CREATED_AT", "DESC"}, {"UPDATED_AT", "DESC"}},
	}
	for _, f := range orderFields {
		orders = append(orders, []orderKey{{f, "ASC"}}, []orderKey{{f, "DESC"}})
	}
	for _, order := range orders {
		name := fmt.Sprint(order)
		want := expectedOrder(sets, order)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cursors := h.walkForward(t, token, order, 7, want)
			h.walkBackward(t, token, order, 7, want)
			// From any set's cursor, both ways: the set under the cursor
			// lies beyond the page, so the flag on that side is true.
			size, n := 7, len(want)
			for _, k := range []int{0, 6, 7, 15, 22, 28, 29} {
				c := cursors[want[k]]
				p := h.mustPage(t, token, pageArgs{order: order, first: &size, after: &c})
				exp := pageWant{IDs: want[k+1 : min(k+1+size, n)], HasNext: k+1+size < n, HasPrev: true, TotalCount: n}
				if diff := cmp.Diff(exp, gotPage(p)); diff != "" {
					t.Errorf("first %d after set %d (-want +got):\n%s", size, k, diff)
				}
				p = h.mustPage(t, token, pageArgs{order: order, last: &size, before: &c})
				exp = pageWant{IDs: want[max(k-size, 0):k], HasNext: true, HasPrev: k > size, TotalCount: n}
				if diff := cmp.Diff(exp, gotPage(p)); diff != "" {
					t.Errorf("last %d before set %d (-want +got):\n%s", size, k, diff)
				}
				// first with before: the first sets of the part before c.
				p = h.mustPage(t, token, pageArgs{order: order, first: &size, before: &c})
				exp = pageWant{IDs: want[:min(size, k)], HasNext: true, HasPrev: false, TotalCount: n}
				if diff := cmp.Diff(exp, gotPage(p)); diff != "" {
					t.Errorf("first %d before set %d (-want +got):\n%s", size, k, diff)
				}
				// last with after: the last sets of the part after c.
				p = h.mustPage(t, token, pageArgs{order: order, last: &size, after: &c})
				exp = pageWant{IDs: want[max(k+1, n-size):], HasNext: false, HasPrev: true, TotalCount: n}
				if diff := cmp.Diff(exp, gotPage(p)); diff != "" {
					t.Errorf("last %d after set %d (-want +got):\n%s", size, k, diff)
				}
			}
			// Between two cursors.
			from, to := cursors[want[3]], cursors[want[12]]
			p := h.mustPage(t, token, pageArgs{order: order, first: ptr(100), after: &from, before: &to})
			exp := pageWant{IDs: want[4:12], HasNext: true, HasPrev: true, TotalCount: n}
			if diff := cmp.Diff(exp, gotPage(p)); diff != "" {
				t.Errorf("between sets 3 and 12 (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPaginationDefaultsAndEnds: the default order and page size, a page
// size that divides the list, an empty list and first: 0.
func TestPaginationDefaultsAndEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	_, emptyToken := h.newUser(t)

	empty := h.mustPage(t, emptyToken, pageArgs{})
	if diff := cmp.Diff(pageWant{IDs: []string{}}, gotPage(empty)); diff != "" || empty.PageInfo.StartCursor != nil {
		t.Errorf("empty collection (-want +got):\n%s\nstartCursor %v", diff, empty.PageInfo.StartCursor)
	}

	sets := galleryFixture(user, 30)
	h.mustInsertSets(t, sets...)
	want := expectedOrder(sets, []orderKey{{"CREATED_AT", "DESC"}})

	p := h.mustPage(t, token, pageArgs{})
	if diff := cmp.Diff(pageWant{IDs: want[:20], HasNext: true, TotalCount: 30}, gotPage(p)); diff != "" {
		t.Errorf("no arguments: 20 sets, newest first (-want +got):\n%s", diff)
	}
	p = h.mustPage(t, token, pageArgs{order: []orderKey{}})
	if diff := cmp.Diff(want[:20], p.ids()); diff != "" {
		t.Errorf("orderBy: [] is the default order (-want +got):\n%s", diff)
	}
	p = h.mustPage(t, token, pageArgs{after: p.PageInfo.EndCursor})
	if diff := cmp.Diff(pageWant{IDs: want[20:], HasPrev: true, TotalCount: 30}, gotPage(p)); diff != "" {
		t.Errorf("second default page (-want +got):\n%s", diff)
	}
	last := 4
	p = h.mustPage(t, token, pageArgs{last: &last})
	if diff := cmp.Diff(pageWant{IDs: want[26:], HasPrev: true, TotalCount: 30}, gotPage(p)); diff != "" {
		t.Errorf("last 4 without a cursor (-want +got):\n%s", diff)
	}

	// Pages of 1 (each cursor is the only set beyond the page), and pages
	// that divide 30: the last page is full and says it is the last.
	for _, size := range []int{1, 5, 6, 30, 100} {
		cursors := h.walkForward(t, token, nil, size, want)
		h.walkBackward(t, token, nil, size, want)
		endCursor := cursors[want[29]]
		p = h.mustPage(t, token, pageArgs{first: &size, after: &endCursor})
		if diff := cmp.Diff(pageWant{IDs: []string{}, HasPrev: true, TotalCount: 30}, gotPage(p)); diff != "" {
			t.Errorf("after the last set, pages of %d (-want +got):\n%s", size, diff)
		}
		startCursor := cursors[want[0]]
		p = h.mustPage(t, token, pageArgs{last: &size, before: &startCursor})
		if diff := cmp.Diff(pageWant{IDs: []string{}, HasNext: true, TotalCount: 30}, gotPage(p)); diff != "" {
			t.Errorf("before the first set, pages of %d (-want +got):\n%s", size, diff)
		}
	}

	zero := 0
	p = h.mustPage(t, token, pageArgs{first: &zero})
	if len(p.Edges) != 0 || p.TotalCount != 30 || !p.PageInfo.HasNextPage {
		t.Errorf("first: 0: got %+v, want no sets, hasNextPage and totalCount 30", gotPage(p))
	}
}

// TestCursorsSurviveChanges: sets inserted or deleted between two pages,
// the set under the cursor included, neither repeat nor skip anything.
func TestCursorsSurviveChanges(t *testing.T) {
	t.Parallel()
	for _, order := range [][]orderKey{
		{{"TITLE", "ASC"}},
		{{"PIECE_COUNT", "DESC"}},
		{{"PURCHASE_DATE", "ASC"}, {"PURCHASE_PRICE", "DESC"}},
	} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			user, token := h.newUser(t)
			current := galleryFixture(user, 30)
			h.mustInsertSets(t, current...)
			size := 7
			byID := func(id string) *models.Set {
				for _, s := range current {
					if s.ID.String() == id {
						return s
					}
				}
				t.Fatalf("no set %s", id)
				return nil
			}
			remove := func(s *models.Set) {
				h.mustExec(t, "DELETE FROM sets WHERE id = ?", s.ID)
				current = slices.DeleteFunc(current, func(c *models.Set) bool { return c == s })
			}
			// beyond lists the current sets after (dir 1) or before (dir -1)
			// where the cursor set c sits, in order.
			beyond := func(c *models.Set, dir int) []string {
				var ids []string
				for _, id := range expectedOrder(current, order) {
					if compareSets(order)(byID(id), c)*dir > 0 {
						ids = append(ids, id)
					}
				}
				return ids
			}

			// Three pages forward, so that the cursor sits in the NULLs for
			// some orders.
			var after *string
			var seen []string
			for range 3 {
				p := h.mustPage(t, token, pageArgs{order: order, first: &size, after: after})
				seen = append(seen, p.ids()...)
				after = p.PageInfo.EndCursor
			}
			cursorSet, cursorC := byID(seen[len(seen)-1]), *after
			// Delete the set under the cursor and one not seen yet; insert a
			// set tied with the cursor's set (but for its id), one sorting
			// first and one sorting last.
			remove(cursorSet)
			remove(byID(expectedOrder(current, order)[len(seen)+1]))
			tied := *cursorSet
			tied.ID = uuid.New()
			first, last := galleryFixture(user, 1)[0], galleryFixture(user, 17)[16]
			first.Title, last.Title = "aaa", "zzz"
			h.mustInsertSets(t, &tied, first, last)
			current = append(current, &tied, first, last)

			var got []string
			for range 10 {
				p := h.mustPage(t, token, pageArgs{order: order, first: &size, after: after})
				got = append(got, p.ids()...)
				if !p.PageInfo.HasNextPage {
					break
				}
				after = p.PageInfo.EndCursor
			}
			if diff := cmp.Diff(beyond(cursorSet, 1), got); diff != "" {
				t.Errorf("the rest of the walk after the changes (-want +got):\n%s", diff)
			}

			// Backward from the deleted set's cursor.
			p := h.mustPage(t, token, pageArgs{order: order, last: &size, before: &cursorC})
			before := beyond(cursorSet, -1)
			if diff := cmp.Diff(before[max(len(before)-size, 0):], p.ids()); diff != "" {
				t.Errorf("last %d before a deleted set (-want +got):\n%s", size, diff)
			}
		})
	}
}

func TestPaginationErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	h.mustInsertSets(t, galleryFixture(user, 3)...)
	byTitle := []orderKey{{"TITLE", "ASC"}}
	p := h.mustPage(t, token, pageArgs{order: byTitle, first: ptr(1)})
	titleCursor := *p.PageInfo.EndCursor
	p = h.mustPage(t, token, pageArgs{first: ptr(1)})
	defaultCursor := *p.PageInfo.EndCursor
	h.warm(t, token)

	craft := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	id := uuid.NewString()
	for _, tc := range []struct {
		name  string
		args  pageArgs
		field string
	}{
		{"first over 100", pageArgs{first: ptr(101)}, "first"},
		{"first negative", pageArgs{first: ptr(-1)}, "first"},
		{"last over 100", pageArgs{last: ptr(101)}, "last"},
		{"last negative", pageArgs{last: ptr(-1)}, "last"},
		{"first over 100 with a cursor", pageArgs{first: ptr(1000), after: &defaultCursor}, "first"},
		{"cursor of another order after", pageArgs{order: byTitle, first: ptr(5), after: &defaultCursor}, "after"},
		{"cursor of another order before", pageArgs{last: ptr(5), before: &titleCursor}, "before"},
		{"cursor of the other direction", pageArgs{order: []orderKey{{"TITLE", "DESC"}}, after: &titleCursor}, "after"},
		{"not base64", pageArgs{after: ptr("not a cursor!")}, "after"},
		{"empty cursor", pageArgs{after: ptr("")}, "after"},
		{"base64 of garbage", pageArgs{before: ptr(craft("garbage"))}, "before"},
		{"wrong value type", pageArgs{after: ptr(craft(`{"o":"CREATED_AT:D","v":["yesterday"],"i":"` + id + `"}`))}, "after"},
		{"int overflow in cursor", pageArgs{order: []orderKey{{"PIECE_COUNT", "ASC"}},
			after: ptr(craft(`{"o":"PIECE_COUNT:A","v":[99999999999],"i":"` + id + `"}`))}, "after"},
		{"bad id in cursor", pageArgs{after: ptr(craft(`{"o":"CREATED_AT:D","v":["2024-01-01T00:00:00Z"],"i":"x"}`))}, "after"},
		{"too many values", pageArgs{after: ptr(craft(`{"o":"CREATED_AT:D","v":["2024-01-01T00:00:00Z",1],"i":"` + id + `"}`))}, "after"},
		{"huge cursor", pageArgs{after: ptr(strings.Repeat("A", 100_000))}, "after"},
		{"first and last", pageArgs{first: ptr(1), last: ptr(1)}, "last"},
		{"order field twice", pageArgs{order: []orderKey{{"TITLE", "ASC"}, {"TITLE", "DESC"}}}, "orderBy.1.field"},
		{"four order keys", pageArgs{order: []orderKey{{"TITLE", "ASC"}, {"THEME", "ASC"}, {"CREATED_AT", "ASC"}, {"UPDATED_AT", "ASC"}}}, "orderBy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.rec.take()
			r := h.do(t, token, pageQuery, tc.args.vars())
			mustFail(t, r, "BAD_USER_INPUT", tc.field)
			if got := h.rec.take(); len(got) > 0 {
				t.Errorf("ran SQL for refused arguments: %q", got)
			}
		})
	}
	t.Run("first 100 is allowed", func(t *testing.T) {
		p := h.mustPage(t, token, pageArgs{first: ptr(100)})
		if len(p.Edges) != 3 {
			t.Errorf("got %d sets, want 3", len(p.Edges))
		}
	})
	t.Run("overflowing first", func(t *testing.T) {
		r := h.do(t, token, `{ sets(first: 2147483648) { totalCount } }`, nil)
		mustFail(t, r, "BAD_USER_INPUT", "first")
	})
}
