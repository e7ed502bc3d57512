package server_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCanonicalSetNumber checks SPEC §7's table through the API: what was
// entered comes back trimmed as setNumber, its key as canonicalSetNumber,
// on create, on read and after an update.
func TestCanonicalSetNumber(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for _, tc := range []struct {
		entered     string
		stored, key *string
	}{
		{"75192", ptr("75192"), ptr("75192-1")},
		{" 75192-1 ", ptr("75192-1"), ptr("75192-1")},
		{"75192-01", ptr("75192-01"), ptr("75192-1")},
		{"75192-2", ptr("75192-2"), ptr("75192-2")},
		{"SW0001a", ptr("SW0001a"), ptr("sw0001a-1")},
		{"sw0001A-1", ptr("sw0001A-1"), ptr("sw0001a-1")},
		{"10179-1-1", ptr("10179-1-1"), ptr("10179-1-1")},
		{"6020-0", ptr("6020-0"), ptr("6020-0")},
		{"  ", nil, nil},
	} {
		t.Run(tc.entered, func(t *testing.T) {
			created := h.mustCreateSet(t, token, map[string]any{"title": "Set", "setNumber": tc.entered})
			if diff := cmp.Diff(tc.stored, created.SetNumber); diff != "" {
				t.Errorf("setNumber (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.key, created.CanonicalSetNumber); diff != "" {
				t.Errorf("canonicalSetNumber on create (-want +got):\n%s", diff)
			}
			read := mustOKData[struct{ Set setJSON }](t, h, token,
				`query($id: UUID!) { set(id: $id) { `+setFields+` } }`, map[string]any{"id": created.ID})
			if diff := cmp.Diff(tc.key, read.Set.CanonicalSetNumber); diff != "" {
				t.Errorf("canonicalSetNumber read back (-want +got):\n%s", diff)
			}
			// An update to another number moves the key; clearing it clears the key.
			updated := mustOKData[struct{ UpdateSet setJSON }](t, h, token, updateSetMutation,
				map[string]any{"id": created.ID, "input": map[string]any{"setNumber": "10497-01"}})
			if got := updated.UpdateSet.CanonicalSetNumber; got == nil || *got != "10497-1" {
				t.Errorf("canonicalSetNumber after setNumber 10497-01: got %v, want 10497-1", got)
			}
			cleared := mustOKData[struct{ UpdateSet setJSON }](t, h, token, updateSetMutation,
				map[string]any{"id": created.ID, "input": map[string]any{"setNumber": nil}})
			if got := cleared.UpdateSet.CanonicalSetNumber; got != nil {
				t.Errorf("canonicalSetNumber after setNumber null: got %q, want null", *got)
			}
		})
	}
}

// TestSetNumberFilterComparesKeys: the setNumber filter finds every way of
// writing a key, both ways round, and never another variant or another
// user's set.
func TestSetNumberFilterComparesKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	_, otherToken := h.newUser(t)
	for _, s := range []struct{ title, number string }{
		{"Falcon typed", "75192"},
		{"Falcon catalogued", "75192-1"},
		{"Falcon second edition", "75192-2"},
		{"Minifigure", "SW0001a"},
	} {
		h.mustCreateSet(t, token, map[string]any{"title": s.title, "setNumber": s.number})
	}
	h.mustCreateSet(t, otherToken, map[string]any{"title": "Someone else's Falcon", "setNumber": "75192-1"})

	const q = `query($f: SetFilter) { sets(first: 100, filter: $f) { nodes { title } } }`
	for _, tc := range []struct {
		number string
		want   []string
	}{
		{"75192", []string{"Falcon catalogued", "Falcon typed"}},
		{"75192-1", []string{"Falcon catalogued", "Falcon typed"}},
		{"75192-001", []string{"Falcon catalogued", "Falcon typed"}},
		{"75192-2", []string{"Falcon second edition"}},
		{"75192-3", []string{}},
		{"sw0001A-1", []string{"Minifigure"}},
		{"SW0001", []string{}},
	} {
		var data struct {
			Sets struct{ Nodes []struct{ Title string } }
		}
		mustOK(t, h.do(t, token, q, map[string]any{"f": map[string]any{"setNumber": tc.number}}), &data)
		got := []string{}
		for _, n := range data.Sets.Nodes {
			got = append(got, n.Title)
		}
		slices.Sort(got)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("setNumber %q (-want +got):\n%s", tc.number, diff)
		}
	}
}

// TestDuplicatesCompareKeys: createSet's duplicates are the sets with the
// new set's key, however either was written.
func TestDuplicatesCompareKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	type payload struct {
		CreateSet struct {
			Set        struct{ ID string }
			Duplicates []struct{ ID string }
		} `json:"createSet"`
	}
	create := func(number string) (string, []string) {
		t.Helper()
		p := mustOKData[payload](t, h, token, `mutation($n: String) {
			createSet(input: {title: "Falcon", setNumber: $n}) { set { id } duplicates { id } } }`,
			map[string]any{"n": number})
		dups := []string{}
		for _, d := range p.CreateSet.Duplicates {
			dups = append(dups, d.ID)
		}
		return p.CreateSet.Set.ID, dups
	}
	typed, dups := create("75192")
	if len(dups) != 0 {
		t.Errorf("first Falcon: duplicates %v, want none", dups)
	}
	catalogued, dups := create("75192-01")
	if diff := cmp.Diff([]string{typed}, dups); diff != "" {
		t.Errorf("75192-01 after 75192 (-want +got):\n%s", diff)
	}
	if _, dups = create("75192-2"); len(dups) != 0 {
		t.Errorf("75192-2: duplicates %v, want none (another variant)", dups)
	}
	if _, dups = create(" 75192-1 "); !cmp.Equal([]string{catalogued, typed}, dups) {
		t.Errorf("75192-1: duplicates %v, want [%s %s] (newest first)", dups, catalogued, typed)
	}
}

// TestCanonicalSetNumberForEveryWriter writes set numbers in SQL, as psql,
// an import or a repair would: the database keeps the key right, and a
// writer cannot set the key apart from the number.
func TestCanonicalSetNumberForEveryWriter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	id := h.mustCreateSet(t, token, map[string]any{"title": "Falcon", "setNumber": "75192"}).ID
	key := func() *string {
		t.Helper()
		var k *string
		if err := h.check.NewRaw(`SELECT canonical_set_number FROM sets WHERE id = ?`, id).
			Scan(context.Background(), &k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	h.mustExec(t, `UPDATE sets SET set_number = 'SW0001A-01' WHERE id = ?`, id)
	if k := key(); k == nil || *k != "sw0001a-1" {
		t.Errorf("after UPDATE set_number = 'SW0001A-01': key %v, want sw0001a-1", k)
	}
	h.mustExec(t, `UPDATE sets SET canonical_set_number = 'forged' WHERE id = ?`, id)
	if k := key(); k == nil || *k != "sw0001a-1" {
		t.Errorf("after UPDATE canonical_set_number = 'forged': key %v, want sw0001a-1", k)
	}
	h.mustExec(t, `INSERT INTO sets (user_id, title, set_number, canonical_set_number)
		SELECT user_id, 'Copy', '10179-1-1', 'forged' FROM sets WHERE id = ?`, id)
	var copied string
	if err := h.check.NewRaw(`SELECT canonical_set_number FROM sets WHERE title = 'Copy'`).
		Scan(context.Background(), &copied); err != nil {
		t.Fatal(err)
	}
	if copied != "10179-1-1" {
		t.Errorf("INSERT with a forged key: key %q, want 10179-1-1", copied)
	}
}
