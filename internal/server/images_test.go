package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

const (
	addImageMutation = `mutation($setId: UUID!, $input: SetImageInput!) {
		addSetImage(setId: $setId, input: $input) { id setId imageUrl thumbnailUrl position createdAt } }`
	deleteImageMutation = `mutation($id: UUID!) { deleteSetImage(id: $id) { deletedId } }`
	reorderMutation     = `mutation($setId: UUID!, $ids: [UUID!]!) {
		reorderSetImages(setId: $setId, imageIds: $ids) { id setId position } }`
	imagesQuery = `query($id: UUID!) { set(id: $id) { images { id setId imageUrl thumbnailUrl position createdAt } } }`
)

func (h *harness) mustAddImage(t *testing.T, token, setID string, input map[string]any) imageJSON {
	t.Helper()
	var data struct{ AddSetImage imageJSON }
	mustOK(t, h.do(t, token, addImageMutation, map[string]any{"setId": setID, "input": input}), &data)
	return data.AddSetImage
}

// mustImages returns the set's images as the API lists them.
func (h *harness) mustImages(t *testing.T, token, setID string) []imageJSON {
	t.Helper()
	var data struct{ Set struct{ Images []imageJSON } }
	mustOK(t, h.do(t, token, imagesQuery, map[string]any{"id": setID}), &data)
	return data.Set.Images
}

func imageIDs(images []imageJSON) []string {
	ids := make([]string, len(images))
	for i, img := range images {
		ids[i] = img.ID
	}
	return ids
}

func positions(images []imageJSON) []int {
	ps := make([]int, len(images))
	for i, img := range images {
		ps[i] = img.Position
	}
	return ps
}

func TestCreateSetImagePositions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, map[string]any{"title": "Positions", "images": []map[string]any{
		{"imageUrl": "https://img.example/a.jpg", "position": 5},
		{"imageUrl": "https://img.example/b.jpg"},
		{"imageUrl": "https://img.example/c.jpg", "position": 0},
		{"imageUrl": "https://img.example/d.jpg", "position": 5},
	}})
	// b takes its index (1) when it has no position; c (0) comes first; a
	// and d tie on 5 and follow in id order.
	byURL := map[string]string{}
	for _, img := range set.Images {
		byURL[img.ImageURL] = img.ID
	}
	tied := []string{byURL["https://img.example/a.jpg"], byURL["https://img.example/d.jpg"]}
	slices.Sort(tied)
	want := append([]string{byURL["https://img.example/c.jpg"], byURL["https://img.example/b.jpg"]}, tied...)
	if diff := cmp.Diff(want, imageIDs(set.Images)); diff != "" {
		t.Errorf("image order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 1, 5, 5}, positions(set.Images)); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(set.Images, h.mustImages(t, token, set.ID)); diff != "" {
		t.Errorf("images read back (-created +read):\n%s", diff)
	}
}

func TestAddSetImage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	set := h.mustCreateSet(t, token, map[string]any{"title": "Gallery"})

	first := h.mustAddImage(t, token, set.ID, map[string]any{"imageUrl": "https://img.example/1.jpg"})
	if first.Position != 0 || first.SetID != set.ID || first.ThumbnailURL != nil || !utcStamp.MatchString(first.CreatedAt) {
		t.Errorf("first image: got %+v, want position 0 in set %s", first, set.ID)
	}
	far := h.mustAddImage(t, token, set.ID, map[string]any{"imageUrl": "https://img.example/far.jpg", "position": 7})
	if far.Position != 7 {
		t.Errorf("explicit position: got %d, want 7", far.Position)
	}
	next := h.mustAddImage(t, token, set.ID, map[string]any{"imageUrl": "https://img.example/2.jpg", "thumbnailUrl": "https://img.example/2t.jpg"})
	if next.Position != 8 {
		t.Errorf("appended after position 7: got %d, want 8", next.Position)
	}
	front := h.mustAddImage(t, token, set.ID, map[string]any{"imageUrl": "https://img.example/0.jpg", "position": 0})
	got := h.mustImages(t, token, set.ID)
	// front and first share position 0: id breaks the tie.
	head := []string{first.ID, front.ID}
	if front.ID < first.ID {
		head = []string{front.ID, first.ID}
	}
	want := append(head, far.ID, next.ID)
	if diff := cmp.Diff(want, imageIDs(got)); diff != "" {
		t.Errorf("images by position then id (-want +got):\n%s", diff)
	}

	for name, tc := range map[string]struct {
		input map[string]any
		field string
	}{
		"relative url":       {map[string]any{"imageUrl": "img/1.jpg"}, "input.imageUrl"},
		"empty url":          {map[string]any{"imageUrl": "  "}, "input.imageUrl"},
		"javascript url":     {map[string]any{"imageUrl": "javascript:alert(1)"}, "input.imageUrl"},
		"bad thumbnail":      {map[string]any{"imageUrl": "https://img.example/x.jpg", "thumbnailUrl": "mailto:a@b.c"}, "input.thumbnailUrl"},
		"negative position":  {map[string]any{"imageUrl": "https://img.example/x.jpg", "position": -1}, "input.position"},
		"position too large": {map[string]any{"imageUrl": "https://img.example/x.jpg", "position": 10001}, "input.position"},
	} {
		t.Run(name, func(t *testing.T) {
			before := h.snapshot(t, user)
			r := h.do(t, token, addImageMutation, map[string]any{"setId": set.ID, "input": tc.input})
			mustFail(t, r, "BAD_USER_INPUT", tc.field)
			if after := h.snapshot(t, user); after != before {
				t.Errorf("rows changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	t.Run("missing set", func(t *testing.T) {
		r := h.do(t, token, addImageMutation, map[string]any{"setId": uuid.NewString(),
			"input": map[string]any{"imageUrl": "https://img.example/x.jpg"}})
		mustFail(t, r, "NOT_FOUND", "")
	})
	if n := h.count(t, "set_images"); n != 4 {
		t.Errorf("set_images: got %d rows, want 4", n)
	}
}

func TestDeleteSetImage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, fullInput())
	gone := set.Images[0]
	var data struct{ DeleteSetImage struct{ DeletedID string } }
	mustOK(t, h.do(t, token, deleteImageMutation, map[string]any{"id": gone.ID}), &data)
	if data.DeleteSetImage.DeletedID != gone.ID {
		t.Errorf("deletedId: got %s, want %s", data.DeleteSetImage.DeletedID, gone.ID)
	}
	if diff := cmp.Diff(imageIDs(set.Images[1:]), imageIDs(h.mustImages(t, token, set.ID))); diff != "" {
		t.Errorf("images after the delete (-want +got):\n%s", diff)
	}
	mustFail(t, h.do(t, token, deleteImageMutation, map[string]any{"id": gone.ID}), "NOT_FOUND", "")
	mustFail(t, h.do(t, token, deleteImageMutation, map[string]any{"id": set.ID}), "NOT_FOUND", "") // a set's id is no image's
	mustFail(t, h.do(t, token, deleteImageMutation, map[string]any{"id": "x"}), "BAD_USER_INPUT", "id")
}

func TestReorderSetImages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	images := []map[string]any{}
	for range 4 {
		images = append(images, map[string]any{"imageUrl": "https://img.example/x.jpg"})
	}
	set := h.mustCreateSet(t, token, map[string]any{"title": "Reorder", "images": images})
	other := h.mustCreateSet(t, token, map[string]any{"title": "Other", "images": images[:1]})
	ids := imageIDs(set.Images)

	reordered := []string{ids[2], ids[0], ids[3], ids[1]}
	var data struct{ ReorderSetImages []imageJSON }
	mustOK(t, h.do(t, token, reorderMutation, map[string]any{"setId": set.ID, "ids": reordered}), &data)
	if diff := cmp.Diff(reordered, imageIDs(data.ReorderSetImages)); diff != "" {
		t.Errorf("answer order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 1, 2, 3}, positions(data.ReorderSetImages)); diff != "" {
		t.Errorf("answer positions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(reordered, imageIDs(h.mustImages(t, token, set.ID))); diff != "" {
		t.Errorf("stored order (-want +got):\n%s", diff)
	}

	for name, list := range map[string][]string{
		"one missing":       reordered[:3],
		"duplicate":         {ids[2], ids[0], ids[3], ids[3]},
		"duplicate instead": {ids[2], ids[0], ids[3], ids[1], ids[1]},
		"one extra":         append(append([]string{}, reordered...), uuid.NewString()),
		"unknown id":        {ids[2], ids[0], ids[3], uuid.NewString()},
		"another set's":     {ids[2], ids[0], ids[3], other.Images[0].ID},
		"empty":             {},
	} {
		t.Run(name, func(t *testing.T) {
			before := h.snapshot(t, user)
			r := h.do(t, token, reorderMutation, map[string]any{"setId": set.ID, "ids": list})
			mustFail(t, r, "BAD_USER_INPUT", "imageIds")
			if after := h.snapshot(t, user); after != before {
				t.Errorf("rows changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	t.Run("set without images", func(t *testing.T) {
		bare := h.mustCreateSet(t, token, map[string]any{"title": "Bare"})
		r := h.do(t, token, reorderMutation, map[string]any{"setId": bare.ID, "ids": []string{}})
		if mustOK(t, r, nil); string(r.Data) != `{"reorderSetImages":[]}` {
			t.Errorf("got %s, want an empty list", r.Data)
		}
	})
	t.Run("missing set", func(t *testing.T) {
		r := h.do(t, token, reorderMutation, map[string]any{"setId": uuid.NewString(), "ids": []string{}})
		mustFail(t, r, "NOT_FOUND", "")
	})
	t.Run("malformed id", func(t *testing.T) {
		r := h.do(t, token, reorderMutation, map[string]any{"setId": set.ID, "ids": []string{ids[0], "nope"}})
		mustFail(t, r, "BAD_USER_INPUT", "imageIds.1") // the argument's path, not the variable's
	})
}

// TestConcurrentAddSetImage: images appended at once to one set each get
// their own position (the set is locked while its last position is read).
func TestConcurrentAddSetImage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, map[string]any{"title": "Busy"})
	const n = 12
	errs := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"query": addImageMutation, "variables": map[string]any{
				"setId": set.ID, "input": map[string]any{"imageUrl": fmt.Sprintf("https://img.example/%d.jpg", i)}}})
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) {
				errs <- string(b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("addSetImage failed: %s", e)
	}
	got := positions(h.mustImages(t, token, set.ID))
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}
