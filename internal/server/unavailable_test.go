package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/brickgallery/sets/models"
)

// TestDatabaseGoneAnswers503: when the database drops the server's
// connections (as a restart does) and refuses new ones, a request gets HTTP
// 503 with Retry-After and SERVICE_UNAVAILABLE, not an internal error, from
// a resolver (over POST and GET) and from the first sight of a user; once
// the database is back, the next request succeeds without a restart of the
// server.
func TestDatabaseGoneAnswers503(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.warm(t, token)
	const gallery = `{ sets(first: 5) { totalCount nodes { id title } } }`
	mustOK(t, h.do(t, token, gallery, nil), nil)

	// A connection to the maintenance database closes this one to new
	// connections and terminates every connection to it, the server's
	// included; it reopens the database at the end.
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(h.url)
	if err != nil {
		t.Fatal(err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := pgx.Identifier{name}.Sanitize()
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := admin.Exec(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false")
	reopened := false
	defer func() {
		if !reopened {
			exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true")
		}
	}()
	exec("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1", name)

	_, stranger := h.newUser(t) // unknown to the server: its row is ensured first
	get, err := http.NewRequest(http.MethodGet, h.srv.URL+"/graphql?query="+url.QueryEscape(gallery), nil)
	if err != nil {
		t.Fatal(err)
	}
	get.Header.Set("Authorization", "Bearer "+token)
	for name, r := range map[string]response{
		"resolver":     h.do(t, token, gallery, nil),
		"resolver GET": h.send(t, get),
		"first sight":  h.do(t, stranger, gallery, nil),
		"upload":       h.upload(t, token, nil, []byte("Set Number,Quantity\n75192-1,1\n")),
	} {
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: got %s with Retry-After %q, want HTTP 503 with Retry-After", name, r, r.Header.Get("Retry-After"))
			continue
		}
		e := mustFail(t, r, string(models.CodeUnavailable), "")
		if e.Message != models.UnavailableMessage || e.Extensions.RequestID == "" {
			t.Errorf("%s: got message %q, request id %q; want %q and an id", name, e.Message, e.Extensions.RequestID, models.UnavailableMessage)
		}
	}
	if logs := h.logs.String(); !strings.Contains(logs, "database unavailable") || strings.Contains(logs, "request failed") {
		t.Errorf("the log should name the database as unavailable, not as a failed request:\n%s", logs)
	}

	exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true")
	reopened = true
	mustOK(t, h.do(t, token, gallery, nil), nil)
	mustOK(t, h.do(t, stranger, gallery, nil), nil)
}
