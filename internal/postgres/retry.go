package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
)

// Retry says how long a statement that met an unreachable database is
// tried again (SPEC §12). A restart (pg_ctl restart -m fast) leaves every
// pooled connection dead and refuses new ones for about a second; without
// retries, 2.4-3.5% of the reads in flight under load failed.
type Retry struct {
	// Within bounds the time spent retrying, counted from the first
	// failure; never past the context's deadline either. Zero: no retries.
	Within time.Duration
	// OnRetry, when set, is told of every attempt about to be repeated.
	OnRetry func(err error)
}

// Back-off between attempts: the first retry goes out almost at once,
// since the next pooled connection may well be a good one; then the waits
// double up to a cap with full jitter, so that instances and requests that
// failed together do not all come back in the same millisecond.
const (
	firstBackoff = 5 * time.Millisecond
	maxBackoff   = 250 * time.Millisecond
)

// Read runs fn, and runs it again while it fails because the database is
// unreachable (Unavailable). Only for work that may run twice: reads, and
// writes that change nothing the second time.
func (r Retry) Read(ctx context.Context, fn func(context.Context) error) error {
	return r.do(ctx, Unavailable, fn)
}

// Write runs fn, and runs it again only when it failed before anything
// reached the server (Unsent): a write that may have been received is
// never repeated, whatever became of it.
func (r Retry) Write(ctx context.Context, fn func(context.Context) error) error {
	return r.do(ctx, Unsent, fn)
}

// Tx runs fn in a transaction on db and commits it, and runs it all again
// while it fails because the database is unreachable, until COMMIT: a
// transaction whose connection broke before its COMMIT was sent was rolled
// back by the server, so nothing of it happened. A COMMIT that was sent and
// got no answer may have committed, and is repeated only when Unsent. fn
// must be safe to run more than once (set its results, not append to
// them).
func (r Retry) Tx(ctx context.Context, db *bun.DB, fn func(context.Context, bun.Tx) error) error {
	var committing bool
	again := func(err error) bool {
		if committing {
			return Unsent(err)
		}
		return Unavailable(err)
	}
	return r.do(ctx, again, func(ctx context.Context) error {
		committing = false
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(ctx, tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		committing = true
		return tx.Commit()
	})
}

func (r Retry) do(ctx context.Context, again func(error) bool, fn func(context.Context) error) error {
	err := fn(ctx)
	if err == nil || r.Within <= 0 || !again(err) {
		return err
	}
	giveUp := time.Now().Add(r.Within)
	if d, ok := ctx.Deadline(); ok && d.Before(giveUp) {
		giveUp = d
	}
	wait := firstBackoff
	for {
		// Full jitter: anywhere up to the current step.
		sleep := rand.N(wait) + time.Millisecond
		if time.Now().Add(sleep).After(giveUp) {
			return err
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if r.OnRetry != nil {
			r.OnRetry(err)
		}
		if err = fn(ctx); err == nil || !again(err) {
			return err
		}
		wait = min(2*wait, maxBackoff)
	}
}

// Unsent reports whether err proves that nothing of the statement reached
// the server: no connection could be made, pgx failed before writing a
// byte, or database/sql gave up on a connection it found broken before use
// (driver.ErrBadConn promises the driver sent nothing). A connection that
// broke after the statement was written is not proof: the server may have
// run it.
func Unsent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) || errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err)
}
