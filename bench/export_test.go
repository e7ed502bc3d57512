package bench_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/testdb"
)

// addExportSets gives user sets from..to (numbered by generate_series),
// each with every field filled, notes with commas and newlines, and 0–3
// images, half of them with a thumbnail: 200,000 load in about a minute.
func addExportSets(b *testing.B, db *bun.DB, user uuid.UUID, from, to int) {
	b.Helper()
	mustExec(b, db, `INSERT INTO sets (user_id, title, set_number, store, source_url, piece_count, release_date,
		theme, tags, notes, is_built, quantity, purchase_price, tax, shipping, purchase_date, created_at)
	SELECT ?, 'Set ' || g || ', "special" edition', (10000 + g) || '-1', 'LEGO Store', 'https://lego.example/' || g,
		100 + g % 3000, timestamp '2015-01-01' + (g % 3000) * interval '1 day',
		(ARRAY['Star Wars','Technic','City','Icons','Ideas','Ninjago'])[1 + g % 6],
		ARRAY['sealed','display, shelf 2'], 'notes ' || g || E',\nsecond line', g % 2 = 0, 1 + g % 3,
		19.99 + g % 500, 1.60, 4.99, timestamp '2020-01-01' + g * interval '1 minute',
		timestamp '2021-01-01' + g * interval '1 second'
	FROM generate_series(?::int, ?::int) g`, user, from, to)
	mustExec(b, db, `INSERT INTO set_images (set_id, image_url, thumbnail_url, position)
	SELECT s.id, 'https://img.example.com/' || s.id || '/' || p || '.jpg',
		CASE WHEN p % 2 = 0 THEN 'https://img.example.com/' || s.id || '/' || p || '_t.jpg' END, p
	FROM sets s CROSS JOIN LATERAL generate_series(0, (hashtext(s.id::text) & 3) - 1) p
	WHERE s.user_id = ? AND s.title LIKE 'Set %' AND NOT EXISTS (SELECT 1 FROM set_images i WHERE i.set_id = s.id)`, user)
	mustExec(b, db, `ANALYZE`)
}

// peaks samples the process's heap while an export runs.
type peaks struct {
	stop chan struct{}
	wg   sync.WaitGroup
	heap uint64 // the largest heap (objects, live and not yet swept) seen
}

func watchHeap() *peaks {
	p := &peaks{stop: make(chan struct{})}
	// The peak resident set size is the kernel's (VmHWM); writing 5 to
	// clear_refs starts it over from the current size.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			p.heap = max(p.heap, s[0].Value.Uint64())
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peaks) done() (heapMB, rssMB float64) {
	close(p.stop)
	p.wg.Wait()
	return float64(p.heap) / (1 << 20), float64(procStatusKB("VmHWM")) / 1024
}

// procStatusKB reads a "kB" line of /proc/self/status (0 when missing).
func procStatusKB(field string) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// BenchmarkExport downloads the whole export of one collector over real
// HTTP, at 20,000 and then 200,000 sets, and reports the peak heap and
// resident set of the process (server and client: the client only counts
// bytes) while it runs. Constant memory shows as the same peaks for ten
// times the sets:
//
//	go test -run '^$' -bench Export -benchtime 1x ./bench/
func BenchmarkExport(b *testing.B) {
	url := testdb.URL(b)
	db := testdb.Open(b, url)
	user := uuid.New()
	mustExec(b, db, `INSERT INTO users (id, email) VALUES (?, 'exporter@example.com')`, user)
	h, token := benchServer(b, db, user, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	loaded := 0
	for _, n := range []int{20_000, 200_000} {
		start := time.Now()
		addExportSets(b, db, user, loaded+1, n)
		b.Logf("loaded %d sets in %s", n-loaded, time.Since(start).Round(time.Millisecond))
		loaded = n
		b.Run("sets="+strconv.Itoa(n), func(b *testing.B) {
			var bytes int64
			var heapMB, rssMB float64
			for range b.N {
				runtime.GC()
				p := watchHeap()
				bytes = download(b, srv, token)
				h, r := p.done()
				heapMB, rssMB = max(heapMB, h), max(rssMB, r)
			}
			b.ReportMetric(heapMB, "peak-heap-MB")
			b.ReportMetric(rssMB, "peak-RSS-MB")
			b.ReportMetric(float64(bytes)/(1<<20), "file-MB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sets/s")
		})
	}
}

// download GETs the export and returns its size.
func download(b *testing.B, srv *httptest.Server, token string) int64 {
	b.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/export/sets.csv", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("export: HTTP %d, %v", resp.StatusCode, err)
	}
	return n
}
