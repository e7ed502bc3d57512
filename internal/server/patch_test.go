package server_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

const updateSetMutation = `mutation($id: UUID!, $input: UpdateSetInput!) {
	updateSet(id: $id, input: $input) { ` + setFields + ` } }`

func (h *harness) mustUpdateSet(t *testing.T, token, id string, input map[string]any) setJSON {
	t.Helper()
	var data struct{ UpdateSet setJSON }
	mustOK(t, h.do(t, token, updateSetMutation, map[string]any{"id": id, "input": input}), &data)
	return data.UpdateSet
}

// TestUpdateSetPatch: an omitted field is unchanged, null clears a nullable
// one, a value replaces it; updatedAt moves on every real update.
func TestUpdateSetPatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	in := fullInput()
	in["wishlistItemId"] = h.mustAddWishlistItem(t, token, map[string]any{"title": "Falcon"})
	orig := h.mustCreateSet(t, token, in)

	t.Run("empty patch changes nothing", func(t *testing.T) {
		got := h.mustUpdateSet(t, token, orig.ID, map[string]any{})
		if diff := cmp.Diff(orig, got); diff != "" {
			t.Errorf("after an empty patch (-before +after):\n%s", diff)
		}
	})

	t.Run("values replace, omitted stay", func(t *testing.T) {
		got := h.mustUpdateSet(t, token, orig.ID, map[string]any{
			"title": " Falcon ", "pieceCount": 0, "isBuilt": false, "quantity": 10000,
			"tags": []string{"b", "A", "a"}, "shipping": "5.5",
		})
		want := orig
		want.Title, want.PieceCount, want.IsBuilt, want.Quantity = "Falcon", ptr(0), false, 10000
		want.Tags, want.Shipping, want.TotalCost = []string{"b", "A"}, ptr("5.50"), ptr("869.49")
		want.UpdatedAt = got.UpdatedAt
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after the patch (-want +got):\n%s", diff)
		}
		if got.UpdatedAt <= orig.UpdatedAt {
			t.Errorf("updatedAt: got %s, want later than %s", got.UpdatedAt, orig.UpdatedAt)
		}
	})

	t.Run("null clears nullable fields", func(t *testing.T) {
		nulls := map[string]any{}
		for _, f := range []string{"setNumber", "store", "sourceUrl", "pieceCount", "releaseDate", "theme",
			"notes", "purchasePrice", "tax", "shipping", "purchaseDate", "wishlistItemId"} {
			nulls[f] = nil
		}
		got := h.mustUpdateSet(t, token, orig.ID, nulls)
		want := setJSON{ID: orig.ID, Title: "Falcon", Tags: []string{"b", "A"}, Quantity: 10000,
			CreatedAt: orig.CreatedAt, UpdatedAt: got.UpdatedAt, Images: orig.Images}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after nulling every nullable field (-want +got):\n%s", diff)
		}
	})

	t.Run("tags: [] clears", func(t *testing.T) {
		got := h.mustUpdateSet(t, token, orig.ID, map[string]any{"tags": []string{}})
		if got.Tags == nil || len(got.Tags) != 0 {
			t.Errorf("tags: got %#v, want []", got.Tags)
		}
	})

	t.Run("null for a required field", func(t *testing.T) {
		for _, f := range []string{"title", "isBuilt", "quantity", "tags"} {
			t.Run(f, func(t *testing.T) {
				snap := h.snapshotSet(t, orig.ID)
				r := h.do(t, token, updateSetMutation, map[string]any{"id": orig.ID,
					"input": map[string]any{f: nil, "notes": "must not be written"}})
				mustFail(t, r, "BAD_USER_INPUT", "input."+f)
				if after := h.snapshotSet(t, orig.ID); after != snap {
					t.Errorf("the set changed:\nbefore %s\nafter  %s", snap, after)
				}
			})
		}
	})

	t.Run("null for a required field as a literal", func(t *testing.T) {
		r := h.do(t, token, `mutation($id: UUID!) { updateSet(id: $id, input: {title: null}) { id } }`,
			map[string]any{"id": orig.ID})
		mustFail(t, r, "BAD_USER_INPUT", "input.title")
	})

	t.Run("missing set", func(t *testing.T) {
		r := h.do(t, token, updateSetMutation, map[string]any{"id": uuid.NewString(), "input": map[string]any{"title": "x"}})
		mustFail(t, r, "NOT_FOUND", "")
		r = h.do(t, token, updateSetMutation, map[string]any{"id": uuid.NewString(), "input": map[string]any{}})
		mustFail(t, r, "NOT_FOUND", "")
	})
}

// snapshotSet returns the set's row as JSON.
func (h *harness) snapshotSet(t *testing.T, id string) string {
	t.Helper()
	var s string
	if err := h.check.NewRaw(`SELECT row_to_json(s)::text FROM sets s WHERE id = ?`, id).Scan(t.Context(), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

const updateImageMutation = `mutation($id: UUID!, $input: UpdateSetImageInput!) {
	updateSetImage(id: $id, input: $input) { id setId imageUrl thumbnailUrl position createdAt } }`

func TestUpdateSetImagePatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	set := h.mustCreateSet(t, token, fullInput())
	img := set.Images[0]
	update := func(t *testing.T, input map[string]any) imageJSON {
		t.Helper()
		var data struct{ UpdateSetImage imageJSON }
		mustOK(t, h.do(t, token, updateImageMutation, map[string]any{"id": img.ID, "input": input}), &data)
		return data.UpdateSetImage
	}

	if got := update(t, map[string]any{}); !cmp.Equal(got, img) {
		t.Errorf("empty patch: got %+v, want %+v", got, img)
	}
	want := img
	want.ImageURL = "https://img.example/new.jpg"
	if got := update(t, map[string]any{"imageUrl": " https://img.example/new.jpg "}); !cmp.Equal(got, want) {
		t.Errorf("new imageUrl (thumbnail omitted): got %+v, want %+v", got, want)
	}
	want.ThumbnailURL = nil
	if got := update(t, map[string]any{"thumbnailUrl": nil}); !cmp.Equal(got, want) {
		t.Errorf("thumbnailUrl null: got %+v, want %+v", got, want)
	}
	want.ThumbnailURL = ptr("https://img.example/t.jpg")
	if got := update(t, map[string]any{"thumbnailUrl": "https://img.example/t.jpg"}); !cmp.Equal(got, want) {
		t.Errorf("thumbnailUrl set: got %+v, want %+v", got, want)
	}

	for name, tc := range map[string]struct {
		input map[string]any
		field string
	}{
		"imageUrl null":     {map[string]any{"imageUrl": nil}, "input.imageUrl"},
		"imageUrl relative": {map[string]any{"imageUrl": "/img/1.jpg"}, "input.imageUrl"},
		"thumbnail ftp":     {map[string]any{"imageUrl": "https://ok.example/a.jpg", "thumbnailUrl": "ftp://img.example/t.jpg"}, "input.thumbnailUrl"},
	} {
		t.Run(name, func(t *testing.T) {
			before := h.snapshot(t, user)
			r := h.do(t, token, updateImageMutation, map[string]any{"id": img.ID, "input": tc.input})
			mustFail(t, r, "BAD_USER_INPUT", tc.field)
			if after := h.snapshot(t, user); after != before {
				t.Errorf("rows changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	r := h.do(t, token, updateImageMutation, map[string]any{"id": uuid.NewString(), "input": map[string]any{}})
	mustFail(t, r, "NOT_FOUND", "")
	r = h.do(t, token, updateImageMutation, map[string]any{"id": uuid.NewString(), "input": map[string]any{"imageUrl": "https://x.example/"}})
	mustFail(t, r, "NOT_FOUND", "")
}
