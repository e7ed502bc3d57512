package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/live"
	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/persisted"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/server"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/migrations"
	"github.com/brickgallery/sets/models"
)

// harness is one API server over a fresh database of its own.
type harness struct {
	cfg config.Config
	// db is the application's handle: its query hook records every statement
	// the API runs. check is a second handle on the same database for
	// fixtures and assertions, so they never show up in the record.
	db      *bun.DB
	check   *bun.DB
	url     string // the database's
	rec     *recorder
	logs    *syncBuffer
	handler http.Handler
	srv     *httptest.Server
	// media is the store of uploaded photos: a directory of the test's,
	// or with -tags s3 a bucket of its own on a real S3 server.
	media media.Store
	// hub serves subscriptions; its listener, on the database directly,
	// sends on listening each time it has (re)connected.
	hub       *live.Hub
	listening chan struct{}
}

// testMediaStore gives each harness its photo store (harness_s3_test.go
// swaps in S3).
var testMediaStore = func(t *testing.T) media.Store {
	t.Helper()
	st, err := media.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newHarness starts the API, configured as in development, in an
// httptest.Server that is closed when t ends.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessEnv(t, map[string]string{"APP_ENV": config.EnvDevelopment})
}

// graphiqlStub stands in for the GraphiQL page, to see whether the server
// routes "/" to it.
var graphiqlStub = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Write([]byte("graphiql stub"))
})

// newHarnessEnv is newHarness configured by env (as the environment would).
func newHarnessEnv(t *testing.T, env map[string]string) *harness {
	t.Helper()
	return newHarnessAt(t, env, testdb.URL(t))
}

// newHarnessAt is newHarnessEnv over the migrated database at url. The
// database's configuration comes from testdb.ServerEnv (behind a pooler:
// its URL, the direct URL, no prepared statements) unless env sets it.
func newHarnessAt(t *testing.T, env map[string]string, url string) *harness {
	t.Helper()
	dbEnv := testdb.ServerEnv(url)
	cfg, err := config.FromEnv(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return dbEnv[k]
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	rec := &recorder{}
	h := &harness{cfg: cfg, rec: rec, media: testMediaStore(t), logs: &syncBuffer{}, check: testdb.Open(t, url), url: url,
		db: testdb.OpenConfig(t, url, postgres.PoolConfig{MaxConns: cfg.DBMaxConns, Tracer: rec})}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ms, err := migrations.New()
	if err != nil {
		t.Fatal(err)
	}
	var trusted *persisted.Documents
	if cfg.TrustedDocuments != "" {
		if trusted, err = persisted.Load(cfg.TrustedDocuments); err != nil {
			t.Fatal(err)
		}
	}
	var replicas *postgres.Replicas
	if len(cfg.DatabaseReplicaURLs) > 0 {
		replicas, err = postgres.OpenReplicas(h.db.DB, cfg.DatabaseReplicaURLs, postgres.PoolConfig{MaxConns: 4},
			postgres.ReplicaOptions{MaxLag: cfg.ReplicaMaxLag, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { replicas.Close() })
	}
	st := store.New(h.db, store.Options{Tracer: rec, MaxActiveReads: cfg.DBMaxActiveReads,
		Retry: postgres.Retry{Within: cfg.DBRetryWithin}, NoPrepare: !cfg.DBPrepare, Replicas: replicas})
	h.startLive(t, st, log)
	h.handler = server.New(server.Deps{
		Config:           cfg,
		Store:            st,
		Live:             h.hub,
		Migrator:         postgres.NewMigrator(h.db, ms, log),
		Log:              log,
		GraphiQL:         graphiqlStub,
		TrustedDocuments: trusted,
		Media:            h.media,
	})
	h.srv = httptest.NewServer(h.handler)
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", h.logs.String())
		}
	})
	return h
}

// startLive runs a live-updates hub and its listener until t ends (the
// listener's connection closed before the database is dropped).
func (h *harness) startLive(t *testing.T, st *store.Store, log *slog.Logger) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.hub = live.NewHub(st, log, live.Limits{PerUser: h.cfg.LiveMaxPerUser, PerInstance: h.cfg.LiveMaxSubscriptions,
		Buffer: h.cfg.LiveQueue})
	h.listening = make(chan struct{}, 100)
	done := make(chan struct{}, 2)
	go func() { h.hub.Run(ctx); done <- struct{}{} }()
	go func() {
		// LISTEN needs a session of its own: never through a pooler.
		live.Listen(ctx, testdb.Direct(h.url), h.hub, log, func() {
			select {
			case h.listening <- struct{}{}:
			default:
			}
		})
		done <- struct{}{}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
}

// recorder is a pgx tracer that records every statement the application
// sends, each statement of a batch on its own, and counts round trips.
type recorder struct {
	mu         sync.Mutex
	queries    []string
	roundTrips int
	// before, when set, runs before each statement (to slow one down).
	before func(ctx context.Context, query string)
}

func (r *recorder) record(ctx context.Context, queries ...string) {
	r.mu.Lock()
	before := r.before
	r.queries = append(r.queries, queries...)
	r.roundTrips++
	r.mu.Unlock()
	if before != nil {
		for _, q := range queries {
			before(ctx, q)
		}
	}
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.record(ctx, d.SQL)
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *recorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	queries := make([]string, len(d.Batch.QueuedQueries))
	for i, q := range d.Batch.QueuedQueries {
		queries[i] = q.SQL
	}
	r.record(ctx, queries...)
	return ctx
}

func (r *recorder) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (r *recorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// take returns the statements recorded since the last take and forgets them.
func (r *recorder) take() []string {
	q, _ := r.takeAll()
	return q
}

// takeAll returns the statements recorded since the last take and how many
// round trips (single statements or batches) carried them, and forgets them.
func (r *recorder) takeAll() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, n := r.queries, r.roundTrips
	r.queries, r.roundTrips = nil, 0
	return q, n
}

func (r *recorder) setBefore(fn func(ctx context.Context, query string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.before = fn
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mustToken returns a bearer token for userID, valid for an hour.
func (h *harness) mustToken(t *testing.T, userID uuid.UUID) string {
	t.Helper()
	tok, err := auth.Mint(h.cfg.JWTSecret, userID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newUser returns a fresh user id and its token. The user row is created by
// the API on its first request.
func (h *harness) newUser(t *testing.T) (uuid.UUID, string) {
	t.Helper()
	id := uuid.New()
	return id, h.mustToken(t, id)
}

// warm makes token's user known to the server (its row is created on the
// first request) and forgets the statements recorded so far, so that what
// is recorded next belongs to the request under test alone. Tests that
// look at statements must not run subtests in parallel.
func (h *harness) warm(t *testing.T, token string) {
	t.Helper()
	mustOK(t, h.do(t, token, `{ me { id } }`, nil), nil)
	h.rec.take()
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code      string `json:"code"`
		Field     string `json:"field"`
		RequestID string `json:"requestId"`
	} `json:"extensions"`
}

// response is a decoded GraphQL-over-HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	Data   json.RawMessage
	Errors []gqlError
}

func (r response) String() string {
	return fmt.Sprintf("HTTP %d %s", r.Status, r.Body)
}

// do posts query with vars as token's user (no Authorization header when
// token is empty).
func (h *harness) do(t *testing.T, token, query string, vars map[string]any) response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.send(t, req)
}

// send runs req against the server and decodes a GraphQL answer.
func (h *harness) send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	return decodeResponse(t, resp)
}

func decodeResponse(t *testing.T, resp *http.Response) response {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	var payload struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(b, &payload); err != nil {
		t.Fatalf("response is not GraphQL JSON: %v\n%s", err, r)
	}
	r.Data, r.Errors = payload.Data, payload.Errors
	return r
}

// mustOK checks that r succeeded and decodes its data into dst (if not nil).
func mustOK(t *testing.T, r response, dst any) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("got %s, want HTTP 200 without errors", r)
	}
	if dst != nil {
		if err := json.Unmarshal(r.Data, dst); err != nil {
			t.Fatalf("decode data: %v\n%s", err, r.Data)
		}
	}
}

// mustFail checks that r failed with exactly one error of code (and, when
// field is not empty, extensions.field == field), and returns it.
func mustFail(t *testing.T, r response, code, field string) gqlError {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("got %d errors in %s, want one %s", len(r.Errors), r, code)
	}
	e := r.Errors[0]
	if e.Extensions.Code != code || e.Extensions.Field != field {
		t.Fatalf("got error code %q field %q (%q), want code %q field %q\n%s",
			e.Extensions.Code, e.Extensions.Field, e.Message, code, field, r)
	}
	return e
}

// mustOKData runs query and decodes its data into a fresh T.
func mustOKData[T any](t *testing.T, h *harness, token, query string, vars map[string]any) T {
	t.Helper()
	var v T
	mustOK(t, h.do(t, token, query, vars), &v)
	return v
}

// setFields selects every field of Set.
const setFields = `id title setNumber canonicalSetNumber store sourceUrl pieceCount releaseDate theme tags notes
	isBuilt quantity purchasePrice tax shipping totalCost purchaseDate wishlistItemId
	createdAt updatedAt images { id setId imageUrl thumbnailUrl position createdAt }`

// setJSON is a Set as the API returns it.
type setJSON struct {
	ID                 string      `json:"id"`
	Title              string      `json:"title"`
	SetNumber          *string     `json:"setNumber"`
	CanonicalSetNumber *string     `json:"canonicalSetNumber"`
	Store              *string     `json:"store"`
	SourceURL          *string     `json:"sourceUrl"`
	PieceCount         *int        `json:"pieceCount"`
	ReleaseDate        *string     `json:"releaseDate"`
	Theme              *string     `json:"theme"`
	Tags               []string    `json:"tags"`
	Notes              *string     `json:"notes"`
	IsBuilt            bool        `json:"isBuilt"`
	Quantity           int         `json:"quantity"`
	PurchasePrice      *string     `json:"purchasePrice"`
	Tax                *string     `json:"tax"`
	Shipping           *string     `json:"shipping"`
	TotalCost          *string     `json:"totalCost"`
	PurchaseDate       *string     `json:"purchaseDate"`
	WishlistItemID     *string     `json:"wishlistItemId"`
	CreatedAt          string      `json:"createdAt"`
	UpdatedAt          string      `json:"updatedAt"`
	Images             []imageJSON `json:"images"`
}

// imageJSON is a SetImage as the API returns it.
type imageJSON struct {
	ID           string  `json:"id"`
	SetID        string  `json:"setId"`
	ImageURL     string  `json:"imageUrl"`
	ThumbnailURL *string `json:"thumbnailUrl"`
	Position     int     `json:"position"`
	CreatedAt    string  `json:"createdAt"`
}

const createSetMutation = `mutation($input: CreateSetInput!) {
	createSet(input: $input) { set { ` + setFields + ` } duplicates { id } } }`

// mustCreateSet creates a set through the API and returns it.
func (h *harness) mustCreateSet(t *testing.T, token string, input map[string]any) setJSON {
	t.Helper()
	var data struct {
		CreateSet struct {
			Set setJSON `json:"set"`
		} `json:"createSet"`
	}
	mustOK(t, h.do(t, token, createSetMutation, map[string]any{"input": input}), &data)
	return data.CreateSet.Set
}

// mustAddWishlistItem adds a wishlist item through the API and returns its id.
func (h *harness) mustAddWishlistItem(t *testing.T, token string, input map[string]any) string {
	t.Helper()
	var data struct {
		AddWishlistItem struct{ ID string } `json:"addWishlistItem"`
	}
	mustOK(t, h.do(t, token, `mutation($input: WishlistItemInput!) { addWishlistItem(input: $input) { id } }`,
		map[string]any{"input": input}), &data)
	return data.AddWishlistItem.ID
}

// mustInsertSets writes sets straight into the database (for fixtures
// whose timestamps the test must control), creating their users first.
func (h *harness) mustInsertSets(t *testing.T, sets ...*models.Set) {
	t.Helper()
	ctx := context.Background()
	for _, s := range sets {
		if _, err := h.check.NewInsert().Model(&models.User{ID: s.UserID}).
			On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
			t.Fatalf("insert user: %v", err)
		}
		if s.Tags == nil {
			s.Tags = []string{}
		}
		if s.Quantity == 0 {
			s.Quantity = 1
		}
		if _, err := h.check.NewInsert().Model(s).Returning("*").Exec(ctx); err != nil {
			t.Fatalf("insert set %q: %v", s.Title, err)
		}
	}
}

// count returns the number of rows of table (in the test's database).
func (h *harness) count(t *testing.T, table string) int {
	t.Helper()
	n, err := h.check.NewSelect().TableExpr(table).Count(context.Background())
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return int(n)
}

// mustExec runs SQL on the test's handle.
func (h *harness) mustExec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := h.check.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// snapshot returns every row of the user's sets and their images as JSON,
// to compare before and after an operation that must change nothing.
func (h *harness) snapshot(t *testing.T, user uuid.UUID) string {
	t.Helper()
	var sets, images string
	ctx := context.Background()
	err := h.check.NewRaw(`SELECT coalesce(json_agg(s ORDER BY s.id), '[]')::text FROM sets s WHERE s.user_id = ?`, user).Scan(ctx, &sets)
	if err != nil {
		t.Fatal(err)
	}
	err = h.check.NewRaw(`SELECT coalesce(json_agg(i ORDER BY i.id), '[]')::text FROM set_images i
		JOIN sets s ON s.id = i.set_id WHERE s.user_id = ?`, user).Scan(ctx, &images)
	if err != nil {
		t.Fatal(err)
	}
	return sets + "\n" + images
}

// mustNoWrites checks that none of the statements changed a set or an
// image (creating the caller's user row on first sight is allowed).
func mustNoWrites(t *testing.T, statements []string) {
	t.Helper()
	for _, q := range statements {
		up := strings.ToUpper(strings.TrimSpace(q))
		if strings.Contains(up, `INTO "USERS"`) {
			continue
		}
		for _, verb := range []string{"INSERT", "UPDATE", "DELETE"} {
			if strings.HasPrefix(up, verb) {
				t.Errorf("a rejected request ran %s", q)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
