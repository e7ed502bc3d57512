package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/brickgallery/sets/internal/postgres"
)

// refused returns the error pgx really gives for a server that is not
// listening (nothing listens on port 1).
func refused(t *testing.T) error {
	t.Helper()
	_, err := pgconn.Connect(context.Background(), "postgres://postgres@127.0.0.1:1/x?connect_timeout=2")
	if err == nil {
		t.Fatal("connected to port 1")
	}
	return fmt.Errorf("open connection: %w", err)
}

func TestRetry(t *testing.T) {
	t.Parallel()
	down := refused(t)
	ctx := context.Background()
	// fails returns fn failing with errs in turn, then succeeding, and the
	// number of calls so far.
	fails := func(errs ...error) (func(context.Context) error, *int) {
		calls := new(int)
		return func(context.Context) error {
			*calls++
			if *calls <= len(errs) {
				return errs[*calls-1]
			}
			return nil
		}, calls
	}
	on := postgres.Retry{Within: 5 * time.Second}

	t.Run("a read is tried again until the database answers", func(t *testing.T) {
		fn, calls := fails(down, down, down)
		if err := on.Read(ctx, fn); err != nil || *calls != 4 {
			t.Fatalf("Read = %v after %d calls, want success on the 4th", err, *calls)
		}
	})
	t.Run("a refusal is not retried", func(t *testing.T) {
		fn, calls := fails(&pgconn.PgError{Code: "23505"})
		if err := on.Read(ctx, fn); err == nil || *calls != 1 {
			t.Fatalf("Read = %v after %d calls, want the error after 1", err, *calls)
		}
	})
	t.Run("a write that may have been sent is not retried", func(t *testing.T) {
		fn, calls := fails(io.ErrUnexpectedEOF)
		if err := on.Write(ctx, fn); !errors.Is(err, io.ErrUnexpectedEOF) || *calls != 1 {
			t.Fatalf("Write = %v after %d calls, want the error after 1", err, *calls)
		}
	})
	t.Run("a write that reached no server is retried", func(t *testing.T) {
		fn, calls := fails(down)
		if err := on.Write(ctx, fn); err != nil || *calls != 2 {
			t.Fatalf("Write = %v after %d calls, want success on the 2nd", err, *calls)
		}
	})
	t.Run("zero never retries", func(t *testing.T) {
		fn, calls := fails(down)
		if err := (postgres.Retry{}).Read(ctx, fn); err == nil || *calls != 1 {
			t.Fatalf("Read = %v after %d calls, want the error after 1", err, *calls)
		}
	})
	t.Run("retries stop within the bound", func(t *testing.T) {
		always := func(context.Context) error { return down }
		start := time.Now()
		err := postgres.Retry{Within: 100 * time.Millisecond}.Read(ctx, always)
		if elapsed := time.Since(start); err == nil || elapsed > 2*time.Second {
			t.Fatalf("Read = %v after %v, want the error within about 100ms", err, elapsed)
		}
	})
	t.Run("retries stop at the context's deadline", func(t *testing.T) {
		always := func(context.Context) error { return down }
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := on.Read(dctx, always)
		if elapsed := time.Since(start); !errors.Is(err, down) || elapsed > 2*time.Second {
			t.Fatalf("Read = %v after %v, want the database's error within about 100ms", err, elapsed)
		}
	})
}
