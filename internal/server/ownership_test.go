package server_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// TestOwnership: user B tries every read and write on user A's ids. Each
// answer is exactly the answer for an id that does not exist, and A's rows
// stay as they were.
func TestOwnership(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	alice, aliceToken := h.newUser(t)
	_, bobToken := h.newUser(t)
	aliceSet := h.mustCreateSet(t, aliceToken, fullInput())
	aliceImg := aliceSet.Images[0].ID
	bobSet := h.mustCreateSet(t, bobToken, map[string]any{"title": "Bob's", "images": []map[string]any{{"imageUrl": "https://img.example/b.jpg"}}})
	before := h.snapshot(t, alice)

	missing := uuid.NewString()
	for _, tc := range []struct {
		name, query string
		vars        func(id string) map[string]any // id is Alice's or a missing one
		code        string
		image       bool // the id is an image's, not a set's
	}{
		{"set", `query($id: UUID!) { set(id: $id) { id title images { id } } }`,
			func(id string) map[string]any { return map[string]any{"id": id} }, "", false},
		{"updateSet", updateSetMutation,
			func(id string) map[string]any {
				return map[string]any{"id": id, "input": map[string]any{"title": "mine now"}}
			}, "NOT_FOUND", false},
		{"updateSet empty patch", updateSetMutation,
			func(id string) map[string]any { return map[string]any{"id": id, "input": map[string]any{}} }, "NOT_FOUND", false},
		{"updateSet nulls", updateSetMutation,
			func(id string) map[string]any {
				return map[string]any{"id": id, "input": map[string]any{"notes": nil, "tax": nil}}
			}, "NOT_FOUND", false},
		{"deleteSet", `mutation($id: UUID!) { deleteSet(id: $id) { deletedId } }`,
			func(id string) map[string]any { return map[string]any{"id": id} }, "NOT_FOUND", false},
		{"addSetImage", addImageMutation,
			func(id string) map[string]any {
				return map[string]any{"setId": id, "input": map[string]any{"imageUrl": "https://img.example/x.jpg"}}
			}, "NOT_FOUND", false},
		{"addSetImage at a position", addImageMutation,
			func(id string) map[string]any {
				return map[string]any{"setId": id, "input": map[string]any{"imageUrl": "https://img.example/x.jpg", "position": 0}}
			}, "NOT_FOUND", false},
		{"reorderSetImages", reorderMutation,
			func(id string) map[string]any { return map[string]any{"setId": id, "ids": imageIDs(aliceSet.Images)} }, "NOT_FOUND", false},
		{"reorderSetImages empty", reorderMutation,
			func(id string) map[string]any { return map[string]any{"setId": id, "ids": []string{}} }, "NOT_FOUND", false},
		{"updateSetImage", updateImageMutation,
			func(id string) map[string]any {
				return map[string]any{"id": id, "input": map[string]any{"imageUrl": "https://evil.example/"}}
			}, "NOT_FOUND", true},
		{"updateSetImage empty patch", updateImageMutation,
			func(id string) map[string]any { return map[string]any{"id": id, "input": map[string]any{}} }, "NOT_FOUND", true},
		{"deleteSetImage", deleteImageMutation,
			func(id string) map[string]any { return map[string]any{"id": id} }, "NOT_FOUND", true},
		{"reorder own set with someone else's image", reorderMutation,
			func(id string) map[string]any { return map[string]any{"setId": bobSet.ID, "ids": []string{id}} }, "BAD_USER_INPUT", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := aliceSet.ID
			if tc.image {
				id = aliceImg
			}
			theirs := h.do(t, bobToken, tc.query, tc.vars(id))
			none := h.do(t, bobToken, tc.query, tc.vars(missing))
			if tc.code == "" {
				mustOK(t, theirs, nil)
				if string(theirs.Data) != `{"set":null}` {
					t.Errorf("got %s, want null", theirs.Data)
				}
			} else {
				mustFail(t, theirs, tc.code, map[string]string{"BAD_USER_INPUT": "imageIds"}[tc.code])
			}
			// Only the id itself, where an answer repeats it, may differ.
			theirsBody := strings.ReplaceAll(string(theirs.Body), id, "ID")
			noneBody := strings.ReplaceAll(string(none.Body), missing, "ID")
			if diff := cmp.Diff(noneBody, theirsBody); theirs.Status != none.Status || diff != "" {
				t.Errorf("someone else's id is answered unlike a missing one (-missing +theirs):\nHTTP %d vs %d\n%s",
					none.Status, theirs.Status, diff)
			}
			if after := h.snapshot(t, alice); after != before {
				t.Errorf("Alice's rows changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	t.Run("lists and totals", func(t *testing.T) {
		var data struct {
			Sets struct {
				Nodes      []struct{ ID string }
				TotalCount int
			}
			Themes          []themeSummary
			Tags            []struct{ Tag string }
			CollectionStats statsJSON
		}
		mustOK(t, h.do(t, bobToken, `query($n: String) {
			sets(filter: {setNumber: $n}) { nodes { id } totalCount }
			themes { theme setCount pieceCount } tags { tag }
			collectionStats { setCount totalQuantity builtCount totalPieces totalSpent byTheme { theme setCount pieceCount } } }`,
			map[string]any{"n": *aliceSet.SetNumber}), &data)
		if len(data.Sets.Nodes) != 0 || data.Sets.TotalCount != 0 || len(data.Themes) != 0 || len(data.Tags) != 0 {
			t.Errorf("Bob sees Alice's sets, themes or tags: %+v", data)
		}
		want := statsJSON{SetCount: 1, TotalQuantity: 1, TotalSpent: "0.00", ByTheme: []themeSummary{}}
		if diff := cmp.Diff(want, data.CollectionStats); diff != "" {
			t.Errorf("Bob's stats (-want +got):\n%s", diff)
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		var data struct {
			CreateSet struct{ Duplicates []struct{ ID string } }
		}
		mustOK(t, h.do(t, bobToken, createSetMutation, map[string]any{"input": map[string]any{"title": "same number", "setNumber": *aliceSet.SetNumber}}), &data)
		if len(data.CreateSet.Duplicates) != 0 {
			t.Errorf("Bob's duplicates list Alice's sets: %v", data.CreateSet.Duplicates)
		}
	})
	if after := h.snapshot(t, alice); after != before {
		t.Errorf("Alice's rows changed:\nbefore %s\nafter  %s", before, after)
	}
}
