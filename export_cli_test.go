package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/server"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/migrations"
)

// httpExport GETs /export/sets.csv with query from the real handler over
// dbURL, as the user with email.
func httpExport(t *testing.T, dbURL, email, query string) string {
	t.Helper()
	env := testdb.ServerEnv(dbURL)
	env["APP_ENV"] = config.EnvDevelopment
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db := testdb.Open(t, dbURL)
	st := store.New(db, store.Options{NoPrepare: !cfg.DBPrepare})
	u, err := st.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations.New()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(server.New(server.Deps{Config: cfg, Store: st, Log: log,
		Migrator: postgres.NewMigrator(db, ms, log)}))
	defer srv.Close()
	tok, err := auth.Mint(cfg.JWTSecret, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/export/sets.csv"+query, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET export%s: HTTP %d %v\n%s", query, resp.StatusCode, err, b)
	}
	return string(b)
}

func TestDBExportIsTheHTTPExport(t *testing.T) {
	dbURL := testdb.URL(t)
	db := testdb.Open(t, dbURL)
	ctx := context.Background()
	const email = "collector@example.com"
	if _, err := store.New(db, store.Options{NoPrepare: testdb.NoPrepare()}).UserByEmailOrCreate(ctx, email); err != nil {
		t.Fatal(err)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO sets (user_id, title, set_number, theme, tags, notes, purchase_price, quantity)
		SELECT u.id, t.title, '1000' || t.n, t.theme, ARRAY[t.title, 'b,c'], t.title, 0.5 * t.n, t.n
		FROM users AS u, (VALUES (1, '=1+1', 'Icons'), (2, 'a,"b"'||chr(13)||chr(10)||'c', 'Star Wars'),
			(3, '''quoted 🧱', 'Star Wars')) AS t(n, title, theme)
		WHERE u.email = ?`, email)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO set_images (set_id, image_url, thumbnail_url, position)
		SELECT s.id, 'https://img/' || n, CASE WHEN n % 2 = 0 THEN 'https://thumb/' || n END, n
		FROM sets AS s, generate_series(0, 3) AS n`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		args  []string
	}{
		{"", nil},
		{"?format=rebrickable", []string{"--format", "rebrickable"}},
		{"?theme=Star+Wars", []string{"--theme", "Star Wars"}},
	} {
		want := httpExport(t, dbURL, email, tc.query)
		r := runCLI(t, dbURL, append([]string{"db", "export", "--email", email}, tc.args...)...)
		mustSucceed(t, r, "db export "+strings.Join(tc.args, " "))
		if r.Stdout != want {
			t.Errorf("db export %v differs from GET%s:\n%q\nwant\n%q", tc.args, tc.query, r.Stdout, want)
		}
		if strings.Count(want, "\n") < 2 {
			t.Errorf("GET%s exported no set:\n%s", tc.query, want)
		}
	}
}

func TestDBExportRefusals(t *testing.T) {
	dbURL := testdb.URL(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--email", "nobody@example.com"}, 1, `no user has the email "nobody@example.com"`},
		{[]string{"--email", "a@b.c", "--format", "xlsx"}, 2, `unknown format "xlsx"`},
		{[]string{}, 2, "needs --email"},
		{[]string{"--email", "a@b.c", "--theme", " "}, 2, "--theme may not be empty"},
	} {
		r := runCLI(t, dbURL, append([]string{"db", "export"}, tc.args...)...)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.msg) || r.Stdout != "" {
			t.Errorf("db export %v: exit %d, stderr %q, stdout %q; want exit %d and %q",
				tc.args, r.Code, r.Stderr, r.Stdout, tc.code, tc.msg)
		}
	}
	r := runCLI(t, dbURL, "db", "export", "--help")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Usage: sets db export --email E") || !strings.Contains(r.Stderr, "-theme") {
		t.Errorf("--help: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
