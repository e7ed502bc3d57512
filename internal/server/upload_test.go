package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/media/mediatest"
	"github.com/brickgallery/sets/internal/store"
)

const uploadMutation = `mutation($set: UUID!, $file: Upload!, $position: Int) {
	uploadSetImage(setId: $set, file: $file, position: $position) {
		id setId imageUrl thumbnailUrl position width height contentType byteSize uploaded } }`

// uploadedImage is a SetImage with the upload fields.
type uploadedImage struct {
	ID           string  `json:"id"`
	SetID        string  `json:"setId"`
	ImageURL     string  `json:"imageUrl"`
	ThumbnailURL *string `json:"thumbnailUrl"`
	Position     int     `json:"position"`
	Width        *int    `json:"width"`
	Height       *int    `json:"height"`
	ContentType  *string `json:"contentType"`
	ByteSize     *int    `json:"byteSize"`
	Uploaded     bool    `json:"uploaded"`
}

// uploadPhoto sends file to uploadSetImage with curl -F's framing.
func (h *harness) uploadPhoto(t *testing.T, token, setID string, file []byte) response {
	t.Helper()
	return h.uploadQuery(t, token, uploadMutation, map[string]any{"set": setID}, file)
}

func (h *harness) mustUploadPhoto(t *testing.T, token, setID string, file []byte) uploadedImage {
	t.Helper()
	var data struct {
		UploadSetImage uploadedImage `json:"uploadSetImage"`
	}
	mustOK(t, h.uploadPhoto(t, token, setID, file), &data)
	return data.UploadSetImage
}

// fetch GETs an image URL's path from the test server, with headers.
func (h *harness) fetch(t *testing.T, rawURL string, header map[string]string) *http.Response {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+u.Path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestUploadAPhonePhoto(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, map[string]any{"title": "Millennium Falcon"})
	photo := mediatest.WithEXIF(t, mediatest.Photo(t, 3000, 1000), 6)

	img := h.mustUploadPhoto(t, token, set.ID, photo)
	if !img.Uploaded || img.SetID != set.ID || img.Position != 0 || img.Width == nil || *img.Width != 682 ||
		*img.Height != 2048 || *img.ContentType != "image/jpeg" || img.ThumbnailURL == nil {
		t.Fatalf("uploaded image = %+v, want an upright 682 × 2048 JPEG with a thumbnail", img)
	}
	if !strings.HasPrefix(img.ImageURL, h.cfg.PublicURL+"/media/") {
		t.Errorf("imageUrl %q is not under PUBLIC_URL %s/media/", img.ImageURL, h.cfg.PublicURL)
	}
	resp := h.fetch(t, img.ImageURL, nil)
	served, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" ||
		resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("ETag") == "" {
		t.Errorf("GET imageUrl: %d %v", resp.StatusCode, resp.Header)
	}
	if len(served) != *img.ByteSize {
		t.Errorf("served %d bytes, byteSize says %d", len(served), *img.ByteSize)
	}
	for _, secret := range []string{"Exif", "SecretCam", "SN-0042"} {
		if bytes.Contains(served, []byte(secret)) {
			t.Errorf("the served photo still holds %q", secret)
		}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(served))
	if err != nil || cfg.Width != 682 || cfg.Height != 2048 {
		t.Errorf("served image: %v, %d × %d", err, cfg.Width, cfg.Height)
	}
	thumb := h.fetch(t, *img.ThumbnailURL, nil)
	tb, _ := io.ReadAll(thumb.Body)
	if tc, _, err := image.DecodeConfig(bytes.NewReader(tb)); err != nil || tc.Height != 400 {
		t.Errorf("thumbnail: %v, %d × %d; want 400 high", err, tc.Width, tc.Height)
	}

	if r := h.fetch(t, img.ImageURL, map[string]string{"If-None-Match": resp.Header.Get("ETag")}); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", r.StatusCode)
	}
	part := h.fetch(t, img.ImageURL, map[string]string{"Range": "bytes=0-99"})
	pb, _ := io.ReadAll(part.Body)
	if part.StatusCode != http.StatusPartialContent || len(pb) != 100 || !bytes.Equal(pb, served[:100]) {
		t.Errorf("Range: %d with %d bytes, want 206 with the first 100", part.StatusCode, len(pb))
	}
	for _, bad := range []string{"/media/nope.jpg", "/media/" + strings.Repeat("a", 32) + ".jpg"} {
		if r := h.fetch(t, "http://x"+bad, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, r.StatusCode)
		}
	}

	// The gallery's own read path writes the same fields.
	var data struct {
		Sets struct {
			Nodes []struct {
				Images []uploadedImage `json:"images"`
			} `json:"nodes"`
		} `json:"sets"`
	}
	mustOK(t, h.do(t, token, `{ sets(first: 5) { nodes { images {
		id setId imageUrl thumbnailUrl position width height contentType byteSize uploaded } } } }`, nil), &data)
	if got := data.Sets.Nodes[0].Images; len(got) != 1 || jsonOf(t, got[0]) != jsonOf(t, img) {
		t.Errorf("the gallery shows %+v, want %+v", got, img)
	}
	h.mustCreateSet(t, token, map[string]any{"title": "By URL", "images": []map[string]any{{"imageUrl": "https://example.com/a.jpg"}}})
	mustOK(t, h.do(t, token, `{ sets(first: 5) { nodes { title images { uploaded width contentType } } } }`, nil), &data)
	if got := data.Sets.Nodes[0].Images[0]; got.Uploaded || got.Width != nil || got.ContentType != nil {
		t.Errorf("an image by URL shows %+v, want uploaded false and null sizes", got)
	}
}

func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	_, other := h.newUser(t)
	set := h.mustCreateSet(t, token, map[string]any{"title": "Castle"})
	jpg := mediatest.Photo(t, 120, 80)
	for _, tt := range []struct {
		name, token, set string
		file             []byte
		code, field      string
	}{
		{"a GIF", token, set.ID, []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), "BAD_USER_INPUT", "file"},
		{"text named .jpg", token, set.ID, []byte("not a photo"), "BAD_USER_INPUT", "file"},
		{"a truncated JPEG", token, set.ID, jpg[:len(jpg)/2], "BAD_USER_INPUT", "file"},
		{"another collector's set", other, set.ID, jpg, "NOT_FOUND", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mustFail(t, h.uploadPhoto(t, tt.token, tt.set, tt.file), tt.code, tt.field)
		})
	}
	if n := len(h.storedKeys(t)); n != 0 {
		t.Errorf("refused uploads left %d files in the store", n)
	}
	if n := h.count(t, "set_images"); n != 0 {
		t.Errorf("refused uploads left %d rows", n)
	}

	// 50 images, then the 51st is refused and leaves no file.
	images := make([]map[string]any, 49)
	for i := range images {
		images[i] = map[string]any{"imageUrl": fmt.Sprintf("https://example.com/%d.jpg", i)}
	}
	full := h.mustCreateSet(t, token, map[string]any{"title": "Full", "images": images})
	h.mustUploadPhoto(t, token, full.ID, jpg)
	mustFail(t, h.uploadPhoto(t, token, full.ID, jpg), "BAD_USER_INPUT", "file")
	if n := len(h.storedKeys(t)); n != 2 {
		t.Errorf("%d files in the store, want the 50th image's two", n)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// flakyStore is the harness's real file store, made to fail its next
// deletions: the janitor must keep them queued and try again.
type flakyStore struct {
	media.Store
	failures int
}

func (s *flakyStore) Delete(ctx context.Context, key string) error {
	if s.failures > 0 {
		s.failures--
		return errors.New("store unavailable")
	}
	return s.Store.Delete(ctx, key)
}

// storedKeys lists the keys in the harness's media store, sorted.
func (h *harness) storedKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	if err := h.media.List(context.Background(), func(key string, _ time.Time) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// rowKeys lists the media keys the rows point at.
func (h *harness) rowKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	if err := h.check.NewRaw(`SELECT k FROM set_images, unnest(ARRAY[media_key, thumbnail_key]) AS k
		WHERE k IS NOT NULL ORDER BY k`).Scan(context.Background(), &keys); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestDeletedPhotosLeaveTheStore deletes uploaded photos every way there
// is — the image, its set, its user with a DELETE in SQL — and runs the
// janitor: the store ends up holding exactly the files rows point at, and a
// store that fails is retried until it confirms.
func TestDeletedPhotosLeaveTheStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	userID, token := h.newUser(t)
	_, other := h.newUser(t)
	st := store.New(h.check, store.Options{NoPrepare: !h.cfg.DBPrepare})
	jpg := mediatest.Photo(t, 200, 100)
	a := h.mustCreateSet(t, token, map[string]any{"title": "A"})
	b := h.mustCreateSet(t, token, map[string]any{"title": "B"})
	kept := h.mustCreateSet(t, other, map[string]any{"title": "Someone else's"})
	first := h.mustUploadPhoto(t, token, a.ID, jpg)
	h.mustUploadPhoto(t, token, a.ID, jpg)
	h.mustUploadPhoto(t, token, b.ID, jpg)
	h.mustUploadPhoto(t, other, kept.ID, jpg)
	if n := len(h.storedKeys(t)); n != 8 {
		t.Fatalf("%d files after four uploads, want 8", n)
	}
	sweep := func(s media.Store) (int, int) {
		t.Helper()
		done, failed, err := st.DeleteQueuedMedia(context.Background(), 100, s.Delete)
		if err != nil {
			t.Fatal(err)
		}
		return done, failed
	}
	same := func(when string) {
		t.Helper()
		if got, want := h.storedKeys(t), h.rowKeys(t); !slices.Equal(got, want) {
			t.Errorf("%s: the store holds %d files, the rows point at %d:\n%q\n%q", when, len(got), len(want), got, want)
		}
	}

	mustOK(t, h.do(t, token, `mutation($id: UUID!) { deleteSetImage(id: $id) { deletedId } }`, map[string]any{"id": first.ID}), nil)
	flaky := &flakyStore{Store: h.media, failures: 2}
	if done, failed := sweep(flaky); done != 0 || failed != 2 {
		t.Fatalf("a failing store: %d removed, %d failed; want both failed and kept", done, failed)
	}
	if n := h.count(t, "media_deletions"); n != 2 {
		t.Fatalf("%d deletions queued after a failure, want the 2 still there", n)
	}
	// Not due yet: the back-off holds them.
	if done, failed := sweep(h.media); done+failed != 0 {
		t.Errorf("retried at once: %d removed, %d failed", done, failed)
	}
	h.mustExec(t, `UPDATE media_deletions SET next_attempt_at = now()`)
	if done, _ := sweep(h.media); done != 2 {
		t.Errorf("the retry removed %d files, want 2", done)
	}
	same("after deleting an image")

	mustOK(t, h.do(t, token, `mutation($id: UUID!) { deleteSet(id: $id) { deletedId } }`, map[string]any{"id": a.ID}), nil)
	sweep(h.media)
	same("after deleting a set")

	h.mustExec(t, `DELETE FROM users WHERE id = ?`, userID)
	sweep(h.media)
	same("after a DELETE FROM users in SQL")
	if n := len(h.storedKeys(t)); n != 2 {
		t.Errorf("%d files left, want the other collector's 2", n)
	}
	if n := h.count(t, "media_deletions"); n != 0 {
		t.Errorf("%d deletions still queued", n)
	}
}
