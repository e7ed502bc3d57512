// Package store holds every SQL query of the application. Each method takes
// the context first, scopes what it reads or writes to one user, and reports
// a missing (or someone else's) row as models.NotFound.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/models"
)

// Store runs queries against one database handle.
type Store struct {
	db   *bun.DB
	opts Options
	// reads holds a token for each read round trip in flight when
	// Options.MaxActiveReads bounds them; nil otherwise.
	reads chan struct{}
	// What ReadStats reports of the reads that had to wait, and of the
	// statements tried again.
	readsWaiting, readWaits, readWaitNanos, retries atomic.Int64
	// Where the reads that may use a replica went (RouteStats).
	routes routeCounters
}

// Options tune a Store; the zero value suits a direct connection to
// PostgreSQL.
type Options struct {
	// NoPrepare sends every statement unnamed. Named prepared statements
	// (a few fixed-shape reads use them) do not survive a
	// transaction-pooling PgBouncer older than 1.21.
	NoPrepare bool
	// Tracer, when set, sees the round trips of the gallery's reads, which
	// go below pgx.Conn and so past the pool's own tracer (tests count
	// statements with both).
	Tracer pgx.BatchTracer
	// MaxActiveReads, when positive, bounds the read round trips (a
	// gallery page, a set, the themes) running at once; the others wait
	// their turn in arrival order. database/sql hands a freed connection to
	// a random waiter, and with every pooled connection busy the unlucky
	// requests made the tail. In interleaved runs of the gallery page on 2
	// cores, 4 reads at once in arrival order against 8 in random order:
	// p99 16-21 ms against 25-39 at 8 clients, at the same throughput, and
	// 26-28 ms against 47-57 at 32, at up to a tenth less (bench/HISTORY.md).
	MaxActiveReads int
	// Retry says how long reads (and transactions, up to their COMMIT)
	// that meet an unreachable database are tried again; the zero value
	// never retries.
	Retry postgres.Retry
	// Replicas, when set, take the reads of a user's data that they can
	// answer as the primary would (replicas.go); the store does not close
	// them.
	Replicas *postgres.Replicas
}

// New returns a Store over db.
func New(db *bun.DB, opts Options) *Store {
	s := &Store{db: db, opts: opts}
	onRetry := opts.Retry.OnRetry
	s.opts.Retry.OnRetry = func(err error) {
		s.retries.Add(1)
		if onRetry != nil {
			onRetry(err)
		}
	}
	if opts.MaxActiveReads > 0 {
		s.reads = make(chan struct{}, opts.MaxActiveReads)
	}
	return s
}

// ReadStats describe the bound on reads (Options.MaxActiveReads), as
// sql.DBStats describe the pool: reads waiting behind it do not show as
// waits for a connection.
type ReadStats struct {
	MaxActive    int           // the bound; 0 when there is none
	Active       int           // reads running now
	Waiting      int           // reads waiting now
	WaitCount    int64         // reads that have had to wait, in all
	WaitDuration time.Duration // their waiting, in all
	Retries      int64         // statements tried again after meeting an unreachable database
}

// ReadStats returns the bound on reads' current state and totals.
func (s *Store) ReadStats() ReadStats {
	return ReadStats{
		MaxActive:    cap(s.reads),
		Active:       len(s.reads),
		Waiting:      int(s.readsWaiting.Load()),
		WaitCount:    s.readWaits.Load(),
		WaitDuration: time.Duration(s.readWaitNanos.Load()),
		Retries:      s.retries.Load(),
	}
}

// read runs fn, a read (or a write that changes nothing when repeated),
// again while the database is unreachable.
func (s *Store) read(ctx context.Context, fn func(context.Context) error) error {
	return s.opts.Retry.Read(ctx, fn)
}

// write runs fn, a statement that commits on its own, again only when it
// provably never reached the server.
func (s *Store) write(ctx context.Context, fn func(context.Context) error) error {
	return s.opts.Retry.Write(ctx, fn)
}

// inTx runs fn in a transaction, again while the database is unreachable
// before COMMIT (postgres.Retry.Tx).
func (s *Store) inTx(ctx context.Context, fn func(context.Context, bun.Tx) error) error {
	return s.opts.Retry.Tx(ctx, s.db, fn)
}

// DB returns the underlying handle, for health checks and migrations.
func (s *Store) DB() *bun.DB { return s.db }

// EnsureUser creates the user row for id if it does not exist yet: users
// are first seen through a token issued by the auth service.
func (s *Store) EnsureUser(ctx context.Context, id uuid.UUID) error {
	// Repeating it changes nothing, so it is retried as a read.
	err := s.read(ctx, func(ctx context.Context) error {
		_, err := s.db.NewInsert().
			Model(&models.User{ID: id}).
			On("CONFLICT (id) DO NOTHING").
			Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure user %s: %w", id, err)
	}
	return nil
}

// UserByEmailOrCreate returns the user with email, creating it if missing.
// Safe under concurrency: a caller that loses the race to insert reads the
// winner's row.
func (s *Store) UserByEmailOrCreate(ctx context.Context, email string) (*models.User, error) {
	for range 2 {
		u := new(models.User)
		err := s.db.NewSelect().Model(u).Where("email = ?", email).Scan(ctx)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("find user %q: %w", email, err)
		}
		u = &models.User{Email: &email}
		res, err := s.db.NewInsert().Model(u).Column("email").
			On("CONFLICT (email) DO NOTHING").Returning("*").Exec(ctx)
		if err != nil {
			return nil, fmt.Errorf("create user %q: %w", email, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return u, nil
		}
	}
	return nil, fmt.Errorf("create user %q: lost the race twice", email)
}

// User returns the user with id.
func (s *Store) User(ctx context.Context, id uuid.UUID) (*models.User, error) {
	u := new(models.User)
	err := s.read(ctx, func(ctx context.Context) error {
		return s.db.NewSelect().Model(u).Where("id = ?", id).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, models.NotFound("user")
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	return u, nil
}

// UserByEmail returns the user with email; NotFound when there is none.
func (s *Store) UserByEmail(ctx context.Context, email string) (*models.User, error) {
	u := new(models.User)
	err := s.read(ctx, func(ctx context.Context) error {
		return s.db.NewSelect().Model(u).Where("email = ?", email).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, models.NotFound("user")
	}
	if err != nil {
		return nil, fmt.Errorf("find user %q: %w", email, err)
	}
	return u, nil
}
