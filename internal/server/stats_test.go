package server_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type themeSummary struct {
	Theme      string `json:"theme"`
	SetCount   int    `json:"setCount"`
	PieceCount int    `json:"pieceCount"`
}

type statsJSON struct {
	SetCount      int            `json:"setCount"`
	TotalQuantity int            `json:"totalQuantity"`
	BuiltCount    int            `json:"builtCount"`
	TotalPieces   int            `json:"totalPieces"`
	TotalSpent    string         `json:"totalSpent"`
	ByTheme       []themeSummary `json:"byTheme"`
}

const statsQuery = `query($filter: SetFilter) { collectionStats(filter: $filter) {
	setCount totalQuantity builtCount totalPieces totalSpent byTheme { theme setCount pieceCount } } }`

func (h *harness) mustStats(t *testing.T, token string, filter map[string]any) statsJSON {
	t.Helper()
	var data struct{ CollectionStats statsJSON }
	mustOK(t, h.do(t, token, statsQuery, map[string]any{"filter": filter}), &data)
	return data.CollectionStats
}

func TestCollectionStats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	_, otherToken := h.newUser(t)

	empty := statsJSON{TotalSpent: "0.00", ByTheme: []themeSummary{}}
	if diff := cmp.Diff(empty, h.mustStats(t, token, nil)); diff != "" {
		t.Errorf("empty collection (-want +got):\n%s", diff)
	}

	for _, in := range []map[string]any{
		// Three copies of 100 pieces: 1 entry, quantity 3, 300 pieces.
		{"title": "a", "theme": "City", "pieceCount": 100, "quantity": 3, "isBuilt": true,
			"purchasePrice": "10.10", "tax": "0.01"},
		{"title": "b", "theme": "City", "pieceCount": 50, "shipping": "4.99"},
		// No piece count: counts as an entry and copies, adds no pieces.
		{"title": "c", "theme": "Space", "quantity": 2, "isBuilt": true},
		// No theme: in the totals, not in byTheme.
		{"title": "d", "pieceCount": 7, "quantity": 10, "purchasePrice": "0.90"},
		{"title": "e", "theme": "Space", "pieceCount": 1000, "tax": "100"},
	} {
		h.mustCreateSet(t, token, in)
	}
	h.mustCreateSet(t, otherToken, map[string]any{"title": "not mine", "theme": "City", "pieceCount": 5, "purchasePrice": "1"})

	want := statsJSON{
		SetCount: 5, TotalQuantity: 3 + 1 + 2 + 10 + 1, BuiltCount: 2,
		TotalPieces: 300 + 50 + 0 + 70 + 1000, TotalSpent: "116.00",
		ByTheme: []themeSummary{{"City", 2, 350}, {"Space", 2, 1000}},
	}
	if diff := cmp.Diff(want, h.mustStats(t, token, nil)); diff != "" {
		t.Errorf("collection (-want +got):\n%s", diff)
	}

	wantBuilt := statsJSON{SetCount: 2, TotalQuantity: 5, BuiltCount: 2, TotalPieces: 300, TotalSpent: "10.11",
		ByTheme: []themeSummary{{"City", 1, 300}, {"Space", 1, 0}}}
	if diff := cmp.Diff(wantBuilt, h.mustStats(t, token, map[string]any{"isBuilt": true})); diff != "" {
		t.Errorf("built sets (-want +got):\n%s", diff)
	}
	none := h.mustStats(t, token, map[string]any{"theme": "Nothing"})
	if diff := cmp.Diff(empty, none); diff != "" {
		t.Errorf("filter matching nothing (-want +got):\n%s", diff)
	}

	var themes struct{ Themes []themeSummary }
	mustOK(t, h.do(t, token, `{ themes { theme setCount pieceCount } }`, nil), &themes)
	if diff := cmp.Diff(want.ByTheme, themes.Themes); diff != "" {
		t.Errorf("themes (-want +got):\n%s", diff)
	}
	mustFail(t, h.do(t, token, statsQuery, map[string]any{"filter": map[string]any{"search": "a\x00"}}),
		"BAD_USER_INPUT", "filter.search")
}

// TestThemesOrder: themes by set count, most first, then by name.
func TestThemesOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	var themes struct{ Themes []themeSummary }
	mustOK(t, h.do(t, token, `{ themes { theme setCount pieceCount } }`, nil), &themes)
	if themes.Themes == nil || len(themes.Themes) != 0 {
		t.Errorf("no sets: got %#v, want []", themes.Themes)
	}
	for _, th := range []string{"castle", "technic", "city", "technic", "city", "space"} {
		h.mustCreateSet(t, token, map[string]any{"title": th, "theme": th, "pieceCount": 1})
	}
	mustOK(t, h.do(t, token, `{ themes { theme setCount pieceCount } }`, nil), &themes)
	want := []themeSummary{{"city", 2, 2}, {"technic", 2, 2}, {"castle", 1, 1}, {"space", 1, 1}}
	if diff := cmp.Diff(want, themes.Themes); diff != "" {
		t.Errorf("themes (-want +got):\n%s", diff)
	}
}

// TestTotalPiecesSaturates: pieceCount × quantity can pass the 32-bit Int
// of GraphQL; the total is capped at its maximum, never wrapped around.
func TestTotalPiecesSaturates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.mustCreateSet(t, token, map[string]any{"title": "huge", "theme": "x", "pieceCount": 1_000_000, "quantity": 10_000})
	got := h.mustStats(t, token, nil)
	if got.TotalPieces != 2147483647 || got.ByTheme[0].PieceCount != 2147483647 {
		t.Errorf("got totalPieces %d, byTheme %v; want 2147483647 (the Int maximum)", got.TotalPieces, got.ByTheme)
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	_, otherToken := h.newUser(t)
	type tagSummary struct {
		Tag      string `json:"tag"`
		SetCount int    `json:"setCount"`
	}
	var data struct{ Tags []tagSummary }
	mustOK(t, h.do(t, token, `{ tags { tag setCount } }`, nil), &data)
	if data.Tags == nil || len(data.Tags) != 0 {
		t.Errorf("no sets: got %#v, want []", data.Tags)
	}
	for _, tags := range [][]string{{"ucs", "display"}, {"UCS"}, {"Ucs", "gift"}, {"display"}, {}} {
		h.mustCreateSet(t, token, map[string]any{"title": "t", "tags": tags})
	}
	h.mustCreateSet(t, otherToken, map[string]any{"title": "t", "tags": []string{"gift", "zzz"}})
	mustOK(t, h.do(t, token, `{ tags { tag setCount } }`, nil), &data)
	// Spellings differing in case count as one tag; which spelling is shown
	// is left to the server, as long as it is one of the user's.
	for i := range data.Tags {
		data.Tags[i].Tag = strings.ToLower(data.Tags[i].Tag)
	}
	want := []tagSummary{{"ucs", 3}, {"display", 2}, {"gift", 1}}
	if diff := cmp.Diff(want, data.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
}
