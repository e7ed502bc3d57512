package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/testdb"
)

// TestUnavailable classifies errors as pgx really returns them: a
// connection the server dropped (as a restart drops every connection), a
// server that refuses connections and one that is not listening are
// unavailable; a statement PostgreSQL refused, or one the caller gave up on,
// is not.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	ctx := context.Background()
	connect := func(t *testing.T) *pgx.Conn {
		t.Helper()
		cfg, err := postgres.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}

	victim, killer := connect(t), connect(t)
	var terminated bool
	if err := killer.QueryRow(ctx, "SELECT pg_terminate_backend($1, 5000)", victim.PgConn().PID()).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("terminate the victim's backend: %v, %v", terminated, err)
	}
	_, dropped := victim.Exec(ctx, "SELECT 1")

	_, syntax := killer.Exec(ctx, "SELEC 1")
	_, unique := killer.Exec(ctx, "CREATE TEMP TABLE u (x int PRIMARY KEY); INSERT INTO u VALUES (1), (1)")
	canceledCtx, cancel := context.WithCancel(ctx)
	cancel()
	_, canceled := killer.Exec(canceledCtx, "SELECT 1")

	cfg, err := postgres.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port = 1 // nothing listens there
	_, refused := pgx.ConnectConfig(ctx, cfg)

	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"backend terminated", dropped, true},
		{"connection refused", refused, true},
		{"wrapped", fmt.Errorf("load sets: %w", dropped), true},
		{"syntax error", syntax, false},
		{"unique violation", unique, false},
		{"canceled", canceled, false},
		{"not a database error", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if c.err == nil && c.name != "nil" {
			t.Errorf("%s: no error to classify", c.name)
			continue
		}
		if got := postgres.Unavailable(c.err); got != c.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
