package server_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
)

// utcStamp is how every DateTime must come out: RFC 3339 in UTC with a Z.
var utcStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$`)

func TestMe(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	const q = `{ me { id email displayName createdAt } }`
	type me struct {
		Me struct {
			ID          string  `json:"id"`
			Email       *string `json:"email"`
			DisplayName *string `json:"displayName"`
			CreatedAt   string  `json:"createdAt"`
		} `json:"me"`
	}
	first := mustOKData[me](t, h, token, q, nil)
	if first.Me.ID != user.String() || first.Me.Email != nil || first.Me.DisplayName != nil {
		t.Errorf("me: got %+v, want id %s with no email or name", first.Me, user)
	}
	if !utcStamp.MatchString(first.Me.CreatedAt) {
		t.Errorf("createdAt: got %q, want RFC 3339 in UTC", first.Me.CreatedAt)
	}
	if n := h.count(t, "users"); n != 1 {
		t.Errorf("users after the first request: got %d rows, want 1 (created on first sight)", n)
	}
	again := mustOKData[me](t, h, token, q, nil)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("me asked twice (-first +second):\n%s", diff)
	}
	if n := h.count(t, "users"); n != 1 {
		t.Errorf("users after the second request: got %d rows, want 1", n)
	}
}

// fullInput is a CreateSetInput with every field, in the awkward forms a
// client may send: padded strings, duplicate tags, offsets other than Z.
func fullInput() map[string]any {
	return map[string]any{
		"title":         "  Millennium Falcon™ ",
		"setNumber":     " 75192-1 ",
		"store":         "LEGO Store",
		"sourceUrl":     "https://www.lego.com/product/75192",
		"pieceCount":    7541,
		"releaseDate":   "2017-10-01T02:00:00+02:00",
		"theme":         "Star Wars",
		"tags":          []string{" UCS ", "Display", "ucs", "DISPLAY", "Gift"},
		"notes":         "Line one\nline two",
		"isBuilt":       true,
		"quantity":      2,
		"purchasePrice": "799.99",
		"tax":           "64",
		"shipping":      0,
		"purchaseDate":  "2023-11-24T23:30:00-01:00",
		"images": []map[string]any{
			{"imageUrl": "https://img.example/1.jpg", "thumbnailUrl": "https://img.example/1-t.jpg"},
			{"imageUrl": " http://img.example/2.jpg "},
		},
	}
}

func TestCreateSet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)

	t.Run("every field", func(t *testing.T) {
		wish := h.mustAddWishlistItem(t, token, map[string]any{"title": "Falcon"})
		in := fullInput()
		in["wishlistItemId"] = wish
		got := h.mustCreateSet(t, token, in)
		want := setJSON{
			ID: got.ID, Title: "Millennium Falcon™", SetNumber: ptr("75192-1"), CanonicalSetNumber: ptr("75192-1"), Store: ptr("LEGO Store"),
			SourceURL: ptr("https://www.lego.com/product/75192"), PieceCount: ptr(7541),
			ReleaseDate: ptr("2017-10-01T00:00:00Z"), Theme: ptr("Star Wars"),
			Tags: []string{"UCS", "Display", "Gift"}, Notes: ptr("Line one\nline two"),
			IsBuilt: true, Quantity: 2, PurchasePrice: ptr("799.99"), Tax: ptr("64.00"), Shipping: ptr("0.00"),
			TotalCost: ptr("863.99"), PurchaseDate: ptr("2023-11-25T00:30:00Z"),
			WishlistItemID: ptr(wish),
			CreatedAt:      got.CreatedAt, UpdatedAt: got.UpdatedAt,
			Images: []imageJSON{
				{SetID: got.ID, ImageURL: "https://img.example/1.jpg", ThumbnailURL: ptr("https://img.example/1-t.jpg"), Position: 0},
				{SetID: got.ID, ImageURL: "http://img.example/2.jpg", Position: 1},
			},
		}
		ignoreImageIDs := cmpopts.IgnoreFields(imageJSON{}, "ID", "CreatedAt")
		if diff := cmp.Diff(want, got, ignoreImageIDs); diff != "" {
			t.Errorf("created set (-want +got):\n%s", diff)
		}
		for _, ts := range []string{got.CreatedAt, got.UpdatedAt, got.Images[0].CreatedAt} {
			if !utcStamp.MatchString(ts) {
				t.Errorf("timestamp %q is not RFC 3339 in UTC", ts)
			}
		}
		// What the API answered is what it stored.
		read := mustOKData[struct{ Set setJSON }](t, h, token,
			`query($id: UUID!) { set(id: $id) { `+setFields+` } }`, map[string]any{"id": got.ID})
		if diff := cmp.Diff(got, read.Set); diff != "" {
			t.Errorf("set read back (-created +read):\n%s", diff)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		got := h.mustCreateSet(t, token, map[string]any{"title": "Bare"})
		want := setJSON{ID: got.ID, Title: "Bare", Tags: []string{}, Quantity: 1, Images: []imageJSON{},
			CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("set with only a title (-want +got):\n%s", diff)
		}
	})

	t.Run("empty optional strings are stored as null", func(t *testing.T) {
		got := h.mustCreateSet(t, token, map[string]any{"title": "Blank", "setNumber": "  ", "store": "", "notes": " ", "sourceUrl": ""})
		if got.SetNumber != nil || got.CanonicalSetNumber != nil || got.Store != nil || got.Notes != nil || got.SourceURL != nil {
			t.Errorf("got setNumber %v canonicalSetNumber %v store %v notes %v sourceUrl %v, want all null", got.SetNumber, got.CanonicalSetNumber, got.Store, got.Notes, got.SourceURL)
		}
	})

	t.Run("required title", func(t *testing.T) {
		before := h.count(t, "sets")
		r := h.do(t, token, createSetMutation, map[string]any{"input": map[string]any{"setNumber": "1"}})
		mustFail(t, r, "BAD_USER_INPUT", "input.title")
		if n := h.count(t, "sets"); n != before {
			t.Errorf("sets: got %d rows, want %d", n, before)
		}
	})
}

func TestCreateSetDuplicates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	_, otherToken := h.newUser(t)
	type payload struct {
		CreateSet struct {
			Set        struct{ ID string } `json:"set"`
			Duplicates []struct{ ID string }
		} `json:"createSet"`
	}
	create := func(tok string, input map[string]any) payload {
		t.Helper()
		return mustOKData[payload](t, h, tok, createSetMutation, map[string]any{"input": input})
	}
	ids := func(p payload) []string {
		out := []string{}
		for _, d := range p.CreateSet.Duplicates {
			out = append(out, d.ID)
		}
		return out
	}
	create(otherToken, map[string]any{"title": "Someone else's", "setNumber": "75192-1"})
	first := create(token, map[string]any{"title": "First", "setNumber": "75192-1"})
	if got := ids(first); len(got) != 0 {
		t.Errorf("first of its number: got duplicates %v, want none (another user's set is not mine)", got)
	}
	create(token, map[string]any{"title": "Other number", "setNumber": "10497-1"})
	create(token, map[string]any{"title": "No number"})
	second := create(token, map[string]any{"title": "Second", "setNumber": "75192-1"})
	if diff := cmp.Diff([]string{first.CreateSet.Set.ID}, ids(second)); diff != "" {
		t.Errorf("second: duplicates (-want +got):\n%s", diff)
	}
	third := create(token, map[string]any{"title": "Third", "setNumber": "  75192-1\t"})
	want := []string{second.CreateSet.Set.ID, first.CreateSet.Set.ID} // newest first
	if diff := cmp.Diff(want, ids(third)); diff != "" {
		t.Errorf("third (number padded): duplicates (-want +got):\n%s", diff)
	}
	none := create(token, map[string]any{"title": "No number again"})
	if got := ids(none); len(got) != 0 {
		t.Errorf("set without a number: got duplicates %v, want none", got)
	}
}

// TestCreateSetIsOneTransaction makes the image insert fail inside the
// database, after the set row went in: the set must not stay behind.
func TestCreateSetIsOneTransaction(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.mustExec(t, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'images refused by the test'; END $$`)
	h.mustExec(t, `CREATE TRIGGER refuse BEFORE INSERT ON set_images FOR EACH ROW EXECUTE FUNCTION refuse()`)

	r := h.do(t, token, createSetMutation, map[string]any{"input": map[string]any{
		"title": "Half written", "images": []map[string]any{{"imageUrl": "https://img.example/1.jpg"}},
	}})
	mustFail(t, r, "INTERNAL_SERVER_ERROR", "")
	if n := h.count(t, "sets"); n != 0 {
		t.Errorf("sets after the failed createSet: got %d rows, want 0", n)
	}
	h.mustCreateSet(t, token, map[string]any{"title": "No images"})
	if n := h.count(t, "sets"); n != 1 {
		t.Errorf("sets after a createSet without images: got %d rows, want 1", n)
	}
}

func TestSetQuery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	created := h.mustCreateSet(t, token, fullInput())
	const q = `query($id: UUID!) { set(id: $id) { id title } }`

	t.Run("mine", func(t *testing.T) {
		got := mustOKData[map[string]map[string]string](t, h, token, q, map[string]any{"id": created.ID})
		if want := map[string]string{"id": created.ID, "title": created.Title}; !cmp.Equal(got["set"], want) {
			t.Errorf("got %v, want %v", got["set"], want)
		}
	})
	t.Run("missing is null", func(t *testing.T) {
		r := h.do(t, token, q, map[string]any{"id": uuid.NewString()})
		mustOK(t, r, nil)
		if want := `{"set":null}`; string(r.Data) != want {
			t.Errorf("got %s, want %s", r.Data, want)
		}
	})
	for name, id := range map[string]any{
		"not a uuid": "75192", "uuid with braces": "{" + created.ID + "}", "number": 42, "empty": "",
	} {
		t.Run("variable "+name, func(t *testing.T) {
			mustFail(t, h.do(t, token, q, map[string]any{"id": id}), "BAD_USER_INPUT", "id")
		})
	}
	t.Run("literal not a uuid", func(t *testing.T) {
		r := h.do(t, token, `{ set(id: "zz") { id } }`, nil)
		mustFail(t, r, "BAD_USER_INPUT", "id")
	})
}

func TestDeleteSet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	doomed := h.mustCreateSet(t, token, fullInput())
	kept := h.mustCreateSet(t, token, fullInput())
	const del = `mutation($id: UUID!) { deleteSet(id: $id) { deletedId } }`

	got := mustOKData[map[string]map[string]string](t, h, token, del, map[string]any{"id": doomed.ID})
	if got["deleteSet"]["deletedId"] != doomed.ID {
		t.Errorf("deletedId: got %v, want %s", got, doomed.ID)
	}
	if n := h.count(t, "sets"); n != 1 {
		t.Errorf("sets: got %d rows, want 1", n)
	}
	if n := h.count(t, "set_images"); n != len(kept.Images) {
		t.Errorf("set_images: got %d rows, want %d (the deleted set's images go with it)", n, len(kept.Images))
	}
	r := h.do(t, token, `query($id: UUID!) { set(id: $id) { id } }`, map[string]any{"id": doomed.ID})
	if mustOK(t, r, nil); string(r.Data) != `{"set":null}` {
		t.Errorf("the deleted set: got %s, want null", r.Data)
	}
	mustFail(t, h.do(t, token, del, map[string]any{"id": doomed.ID}), "NOT_FOUND", "")
	mustFail(t, h.do(t, token, del, map[string]any{"id": uuid.NewString()}), "NOT_FOUND", "")
	mustFail(t, h.do(t, token, del, map[string]any{"id": "nope"}), "BAD_USER_INPUT", "id")
}

// TestUnknownFieldIsNotInternal: a query that does not validate is the
// client's mistake and is answered as such, never as an internal error.
func TestUnknownFieldIsNotInternal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	r := h.do(t, token, `{ me { id password } }`, nil)
	if r.Status == http.StatusOK && len(r.Errors) == 0 {
		t.Fatalf("got %s, want a validation error", r)
	}
	if len(r.Errors) == 0 || r.Errors[0].Extensions.Code == "INTERNAL_SERVER_ERROR" {
		t.Errorf("got %s, want a validation error that is not internal", r)
	}
}
