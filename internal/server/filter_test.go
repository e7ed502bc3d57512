package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/models"
)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// filterFixture is a small collection where each filter has something to
// get wrong: boundary values, NULLs, case, and % and _ in the text.
func filterFixture(user uuid.UUID) []*models.Set {
	return []*models.Set{
		{UserID: user, Title: "Millennium Falcon", Theme: ptr("Star Wars"), Tags: []string{"UCS", "Display"},
			IsBuilt: true, SetNumber: ptr("75192-1"), Store: ptr("LEGO Store"), PieceCount: ptr(int32(7541)),
			PurchaseDate: at("2024-01-01T00:00:00Z"), Notes: ptr("Bought on sale, 50% off")},
		{UserID: user, Title: "X-Wing", Theme: ptr("Star Wars"), Tags: []string{"ucs"},
			SetNumber: ptr("75355-1"), Store: ptr("Amazon"), PieceCount: ptr(int32(1949)),
			PurchaseDate: at("2024-02-01T00:00:00Z"), Notes: ptr("an under_score here")},
		{UserID: user, Title: "Pirate Ship", Theme: ptr("Pirates"), Tags: []string{"Classic"},
			IsBuilt: true, SetNumber: ptr("10320-1"), Store: ptr("LEGO Store"), PieceCount: ptr(int32(1000)),
			PurchaseDate: at("2023-12-31T23:59:59.999999Z")},
		{UserID: user, Title: "Fire Station 100%", Theme: ptr("City")},
		{UserID: user, Title: "Castle", Tags: []string{"classic", "DISPLAY"}, IsBuilt: true,
			SetNumber: ptr("10305-1"), Store: ptr("Amazon"), PieceCount: ptr(int32(4514)),
			PurchaseDate: at("2024-01-31T12:00:00Z"), Notes: ptr(`a \ backslash`)},
		{UserID: user, Title: "Tow_Truck", Theme: ptr("City"), PieceCount: ptr(int32(999)),
			PurchaseDate: at("2024-02-01T00:00:00Z")},
	}
}

func TestSetFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	other, _ := h.newUser(t)
	h.mustInsertSets(t, filterFixture(user)...)
	h.mustInsertSets(t, filterFixture(other)...) // the same again for someone else: never matched

	all := []string{"Millennium Falcon", "X-Wing", "Pirate Ship", "Fire Station 100%", "Castle", "Tow_Truck"}
	for _, tc := range []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"no filter", nil, all},
		{"empty filter", map[string]any{}, all},
		{"theme", map[string]any{"theme": "Star Wars"}, []string{"Millennium Falcon", "X-Wing"}},
		{"theme is exact", map[string]any{"theme": "star wars"}, nil},
		{"theme null is no filter", map[string]any{"theme": nil}, all},
		{"themes", map[string]any{"themes": []string{"City", "Pirates"}}, []string{"Pirate Ship", "Fire Station 100%", "Tow_Truck"}},
		{"themes empty", map[string]any{"themes": []string{}}, nil},
		{"built", map[string]any{"isBuilt": true}, []string{"Millennium Falcon", "Pirate Ship", "Castle"}},
		{"not built", map[string]any{"isBuilt": false}, []string{"X-Wing", "Fire Station 100%", "Tow_Truck"}},
		{"tag any case", map[string]any{"tags": []string{"ucs"}}, []string{"Millennium Falcon", "X-Wing"}},
		{"tags has all", map[string]any{"tags": []string{"Display", "CLASSIC"}}, []string{"Castle"}},
		{"tags one missing", map[string]any{"tags": []string{"ucs", "classic"}}, nil},
		{"search title any case", map[string]any{"search": "FALCON"}, []string{"Millennium Falcon"}},
		{"search set number", map[string]any{"search": "5355"}, []string{"X-Wing"}},
		{"search notes", map[string]any{"search": "ON SALE"}, []string{"Millennium Falcon"}},
		{"search percent is literal", map[string]any{"search": "%"}, []string{"Millennium Falcon", "Fire Station 100%"}},
		{"search 0% is literal", map[string]any{"search": "0%"}, []string{"Millennium Falcon", "Fire Station 100%"}},
		{"search underscore is literal", map[string]any{"search": "_"}, []string{"X-Wing", "Tow_Truck"}},
		{"search backslash is literal", map[string]any{"search": `\`}, []string{"Castle"}},
		{"search trimmed", map[string]any{"search": "  wing "}, []string{"X-Wing"}},
		{"set number exact", map[string]any{"setNumber": "75192-1"}, []string{"Millennium Falcon"}},
		{"set number trimmed", map[string]any{"setNumber": " 75192-1\t"}, []string{"Millennium Falcon"}},
		{"set number without its variant is variant 1", map[string]any{"setNumber": "75192"}, []string{"Millennium Falcon"}},
		{"set number variant with a leading zero", map[string]any{"setNumber": "75192-01"}, []string{"Millennium Falcon"}},
		{"set number another variant", map[string]any{"setNumber": "75192-2"}, nil},
		{"set number not a substring", map[string]any{"setNumber": "7519"}, nil},
		{"store", map[string]any{"store": "Amazon"}, []string{"X-Wing", "Castle"}},
		{"store is exact", map[string]any{"store": "amazon"}, nil},
		{"pieces min inclusive", map[string]any{"pieceCountMin": 1949}, []string{"Millennium Falcon", "X-Wing", "Castle"}},
		{"pieces max inclusive", map[string]any{"pieceCountMax": 1000}, []string{"Pirate Ship", "Tow_Truck"}},
		{"pieces range", map[string]any{"pieceCountMin": 1000, "pieceCountMax": 4514}, []string{"X-Wing", "Pirate Ship", "Castle"}},
		{"pieces empty range", map[string]any{"pieceCountMin": 5000, "pieceCountMax": 4000}, nil},
		{"purchased from inclusive", map[string]any{"purchasedFrom": "2024-01-01T00:00:00Z"},
			[]string{"Millennium Falcon", "X-Wing", "Castle", "Tow_Truck"}},
		{"purchased from with offset", map[string]any{"purchasedFrom": "2024-01-01T01:00:00+01:00"},
			[]string{"Millennium Falcon", "X-Wing", "Castle", "Tow_Truck"}},
		{"purchased to exclusive", map[string]any{"purchasedTo": "2024-02-01T00:00:00Z"},
			[]string{"Millennium Falcon", "Pirate Ship", "Castle"}},
		{"purchased range", map[string]any{"purchasedFrom": "2024-01-01T00:00:00.000001Z", "purchasedTo": "2024-02-01T00:00:00.000001Z"},
			[]string{"X-Wing", "Castle", "Tow_Truck"}},
		{"theme and built", map[string]any{"theme": "Star Wars", "isBuilt": false}, []string{"X-Wing"}},
		{"theme and search", map[string]any{"theme": "City", "search": "_"}, []string{"Tow_Truck"}},
		{"everything at once", map[string]any{"themes": []string{"Star Wars", "City"}, "isBuilt": true, "tags": []string{"UCS"},
			"search": "falcon", "setNumber": "75192-1", "store": "LEGO Store", "pieceCountMin": 7541, "pieceCountMax": 7541,
			"purchasedFrom": "2024-01-01T00:00:00Z", "purchasedTo": "2024-01-01T00:00:00.000001Z"}, []string{"Millennium Falcon"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data struct {
				Sets struct {
					Nodes      []struct{ Title string }
					TotalCount int
				}
				CollectionStats struct{ SetCount int }
			}
			mustOK(t, h.do(t, token, `query($f: SetFilter) {
				sets(filter: $f, first: 100) { nodes { title } totalCount }
				collectionStats(filter: $f) { setCount } }`, map[string]any{"f": tc.filter}), &data)
			var got []string
			for _, n := range data.Sets.Nodes {
				got = append(got, n.Title)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sets (-want +got):\n%s", diff)
			}
			if data.Sets.TotalCount != len(want) || data.CollectionStats.SetCount != len(want) {
				t.Errorf("got totalCount %d and collectionStats.setCount %d, want %d",
					data.Sets.TotalCount, data.CollectionStats.SetCount, len(want))
			}
		})
	}
}

func TestSetFilterErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.warm(t, token)
	const q = `query($f: SetFilter) { sets(filter: $f) { totalCount } }`
	for name, tc := range map[string]struct {
		filter map[string]any
		field  string
	}{
		"NUL in search":   {map[string]any{"search": "a\x00b"}, "filter.search"},
		"NUL in theme":    {map[string]any{"theme": "\x00"}, "filter.theme"},
		"NUL in a tag":    {map[string]any{"tags": []string{"ok", "\x00"}}, "filter.tags.1"},
		"search too long": {map[string]any{"search": strings.Repeat("a", 201)}, "filter.search"},
		"bad date":        {map[string]any{"purchasedFrom": "2024-01-01"}, "filter.purchasedFrom"},
		"bad date type":   {map[string]any{"purchasedTo": 1700000000}, "filter.purchasedTo"},
		"pieces overflow": {map[string]any{"pieceCountMin": 2147483648}, "filter.pieceCountMin"},
		// gqlparser checks a variable's type before any argument sees it,
		// so this one names the variable's path.
		"pieces not a number": {map[string]any{"pieceCountMax": "many"}, "f.pieceCountMax"},
	} {
		t.Run(name, func(t *testing.T) {
			h.rec.take()
			mustFail(t, h.do(t, token, q, map[string]any{"f": tc.filter}), "BAD_USER_INPUT", tc.field)
			if got := h.rec.take(); len(got) > 0 {
				t.Errorf("ran SQL for a bad filter: %q", got)
			}
		})
	}
}
