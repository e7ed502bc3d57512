package bench_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/testdb"
)

// BenchmarkSixteenUploads sends sixteen 12-megapixel photos at once to
// uploadSetImage through the real HTTP handler (a file store in a temporary
// directory, the default decoding pool of one per core) and reports the
// process's peak resident set during them (SPEC §8: under 1 GiB). The
// photo is benchPhoto's: MEDIA_BENCH_IMAGE, or a synthetic 4032 × 3024.
func BenchmarkSixteenUploads(b *testing.B) {
	photo := benchPhoto(b)
	db := testdb.Open(b, testdb.URL(b))
	user := uuid.New()
	mustExec(b, db, `INSERT INTO users (id, email) VALUES (?, 'uploader@example.com')`, user)
	var setID uuid.UUID
	if err := db.NewRaw(`INSERT INTO sets (user_id, title) VALUES (?, 'Photographed') RETURNING id`, user).
		Scan(b.Context(), &setID); err != nil {
		b.Fatal(err)
	}
	photos, err := media.NewFileStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	h, token := benchServer(b, db, user, photos)
	srv := httptest.NewServer(h)
	defer srv.Close()
	body, contentType := uploadBody(b, setID, photo)
	var rssMB, heapMB float64
	for b.Loop() {
		mustExec(b, db, `DELETE FROM set_images`)
		runtime.GC()
		p := watchHeap()
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", contentType)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := srv.Client().Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				defer resp.Body.Close()
				var out struct {
					Errors []json.RawMessage `json:"errors"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
					b.Errorf("upload: HTTP %d %v %s", resp.StatusCode, err, out.Errors)
				}
			})
		}
		wg.Wait()
		h, r := p.done()
		heapMB, rssMB = max(heapMB, h), max(rssMB, r)
	}
	b.ReportMetric(rssMB, "peak-RSS-MB")
	b.ReportMetric(heapMB, "peak-heap-MB")
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(16*b.N), "ms/upload")
}

func uploadBody(b *testing.B, setID uuid.UUID, photo []byte) ([]byte, string) {
	ops, _ := json.Marshal(map[string]any{
		"query":     `mutation($s: UUID!, $f: Upload!) { uploadSetImage(setId: $s, file: $f) { id width } }`,
		"variables": map[string]any{"s": setID, "f": nil}})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("operations", string(ops))
	mw.WriteField("map", `{"0":["variables.f"]}`)
	fw, err := mw.CreateFormFile("0", "photo.jpg")
	if err != nil {
		b.Fatal(err)
	}
	fw.Write(photo)
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}
