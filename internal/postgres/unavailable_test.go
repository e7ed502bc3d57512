package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
	dropped := terminatedMidStatement(t, victim, killer)
	t.Logf("backend terminated mid-statement: %v", dropped)

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

// terminatedMidStatement returns the error victim gets when its backend is
// terminated (by killer) while it runs a statement, as a restart ends
// it. The backend is found by its statement, not by victim's PID: behind
// a transaction pooler that PID is the pooler's, and an idle client has no
// backend at all (the pooler gives the next statement another one, and
// there is no error to see).
func terminatedMidStatement(t *testing.T, victim, killer *pgx.Conn) error {
	t.Helper()
	ctx := context.Background()
	const marker = "SELECT pg_sleep(30) -- unavailable_test victim"
	done := make(chan error, 1)
	go func() {
		_, err := victim.Exec(ctx, marker)
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		err := killer.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'active' AND query = $1`, marker).Scan(&n)
		if err != nil {
			t.Fatalf("terminate the victim's backend: %v", err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the victim's statement never showed in pg_stat_activity")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the victim's statement went on after its backend was terminated")
		return nil
	}
}
