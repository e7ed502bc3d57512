// Package bench holds the load-test harness (see README.md) and the Go
// benchmarks of the API's hot paths, which need no load tool:
//
//	go test -run '^$' -bench . -benchmem ./bench/
package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/server"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/migrations"
)

// The three queries of the load benchmark (bench/queries), as the frontend
// sends them.
const (
	galleryQuery = `query Gallery($theme: String!, $first: Int!) {
  sets(filter: { theme: $theme }, orderBy: [{ field: CREATED_AT, direction: DESC }], first: $first) {
    totalCount
    nodes {
      id title setNumber store sourceUrl pieceCount releaseDate theme tags notes
      isBuilt quantity purchasePrice tax shipping purchaseDate wishlistItemId createdAt updatedAt
      images { id setId imageUrl thumbnailUrl position createdAt }
    }
  }
}`
	detailQuery = `query SetDetail($id: UUID!) {
  set(id: $id) {
    id title setNumber store sourceUrl pieceCount releaseDate theme tags notes
    isBuilt quantity purchasePrice tax shipping purchaseDate wishlistItemId createdAt updatedAt
    images { id setId imageUrl thumbnailUrl position createdAt }
  }
}`
	themesQuery = `query Stats { themes { theme setCount pieceCount } }`
)

// fixture is a heavy collector (2,000 sets, a sixth of them Star Wars,
// 0–6 images each) behind the real HTTP handler.
type fixture struct {
	h     http.Handler
	token string
	setID uuid.UUID
}

func newFixture(b *testing.B) *fixture {
	b.Helper()
	url := testdb.URL(b)
	db := testdb.Open(b, url)
	ctx := context.Background()
	user := uuid.New()
	mustExec(b, db, `INSERT INTO users (id, email) VALUES (?, 'heavy@example.com')`, user)
	mustExec(b, db, `INSERT INTO sets (user_id, title, set_number, store, piece_count, release_date, theme,
		tags, notes, is_built, quantity, purchase_price, tax, shipping, purchase_date, created_at)
	SELECT ?, 'Set ' || g, (10000 + g) || '-1', 'LEGO Store', 100 + g % 3000, timestamp '2015-01-01' + g * interval '1 day',
		(ARRAY['Star Wars','Technic','City','Icons','Ideas','Ninjago'])[1 + g % 6],
		ARRAY['sealed','display'], CASE WHEN g % 3 = 0 THEN 'notes ' || g END, g % 2 = 0, 1 + g % 3,
		19.99 + g % 500, 1.60, 4.99, timestamp '2020-01-01' + g * interval '1 hour',
		timestamp '2021-01-01' + g * interval '1 hour'
	FROM generate_series(1, 2000) g`, user)
	mustExec(b, db, `INSERT INTO set_images (set_id, image_url, thumbnail_url, position)
	SELECT s.id, 'https://img.example.com/' || s.id || '/' || p || '.jpg',
		'https://img.example.com/' || s.id || '/' || p || '_t.jpg', p
	FROM sets s CROSS JOIN LATERAL generate_series(0, (hashtext(s.id::text) & 7) % 7 - 1) p`)
	mustExec(b, db, `ANALYZE`)
	var f fixture
	if err := db.NewRaw(`SELECT id FROM sets WHERE user_id = ? AND theme = 'Star Wars'
		AND (SELECT count(*) FROM set_images i WHERE i.set_id = sets.id) >= 4 LIMIT 1`, user).Scan(ctx, &f.setID); err != nil {
		b.Fatal(err)
	}
	f.h, f.token = benchServer(b, db, user, nil)
	return &f
}

// benchServer is the whole HTTP handler over db, configured as in
// production (photos in photos, none when nil), and a token for user.
func benchServer(b *testing.B, db *bun.DB, user uuid.UUID, photos media.Store) (http.Handler, string) {
	b.Helper()
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{"APP_ENV": "production", "AUTH_JWT_SECRET": "bench-secret-0123456789abcdef0123456789"}[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	ms, err := migrations.New()
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Behind a pooler (testdb.NoPrepare) as production is configured there.
	h := server.New(server.Deps{Config: cfg, Store: store.New(db, store.Options{NoPrepare: testdb.NoPrepare()}),
		Migrator: postgres.NewMigrator(db, ms, log), Log: log, Media: photos})
	token, err := auth.Mint(cfg.JWTSecret, user, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return h, token
}

func mustExec(b *testing.B, db *bun.DB, query string, args ...any) {
	b.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		b.Fatalf("%s: %v", query, err)
	}
}

// run posts query and fails on anything but a clean 200.
func (f *fixture) run(b *testing.B, query string, vars map[string]any) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.token)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
		b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
}

func BenchmarkAPI(b *testing.B) {
	f := newFixture(b)
	cases := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"Q1Gallery50", galleryQuery, map[string]any{"theme": "Star Wars", "first": 50}},
		{"Q2SetDetail", detailQuery, map[string]any{"id": f.setID}},
		{"Q3Themes", themesQuery, nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			// Several requests in flight, as under load: ns/op is then the
			// inverse of throughput on this machine, database included.
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					f.run(b, c.query, c.vars)
				}
			})
		})
	}
}
