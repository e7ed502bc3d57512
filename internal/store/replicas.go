package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/postgres"
)

// Reads from replicas, with read-your-writes across instances (SPEC §12).
//
// A user's read may go to a replica (Options.Replicas picks one that
// answers and lags less than REPLICA_MAX_LAG); a replica that is behind
// that user's own acknowledged writes must not answer it. Like GitLab's
// database load balancing, which remembers the primary's WAL position of
// each user's last write in Redis ("sticking") and uses a replica only once
// it has replayed that far, we compare positions; but the shared state is
// already in the database, exact and per user: every write of a user's
// sets, images or wishlist items bumps change_heads.position for that user
// in the writing transaction (the change log's triggers, for every writer).
// So a read on a replica
//
//   - reads the user's position on the primary, concurrently with the
//     replica's round trip (a prepared primary-key lookup: the replica's
//     round trip, not the sum of both, is the read's latency);
//   - reads the replica's own position for the user as the first statement
//     of the same pipeline as the data. Each statement of a READ COMMITTED
//     pipeline takes a snapshot at least as new as the one before, so the
//     data is at least as new as that position;
//   - keeps the replica's answer only when its position is at least the
//     primary's, and otherwise reads again on the primary.
//
// A write acknowledged before the read began committed before the
// primary's position was read, so that position covers it; positions are
// handed out under the user's change_heads row lock in commit order, and a
// standby makes commits visible in WAL order, so a replica that shows a
// position at least as large has replayed the write. That holds whichever
// instance took the write, with no clock and no state of our own. Cheaper
// schemes were not strictly correct: remembering positions per instance
// misses writes taken by another one, and the change log's NOTIFY reaches
// other instances after the write's acknowledgement, not before.
//
// What stays on the primary: transactions and every write; reads that
// change_heads does not cover (users, rows the media janitor queues), the
// images loader (ImagesBySet, which knows no user, and mostly serves
// mutations' answers), and checks made before a write (ImageCount).

// RouteStats count where the reads that may use a replica went.
type RouteStats struct {
	Replica int64 // answered by a replica
	// Primary counts those answered by the primary, by why: no replica
	// was usable; the replica was behind the user's own writes; the read
	// failed on the replica (and moved at once); the user's position on
	// the primary could not be read.
	PrimaryNoReplica, PrimaryStale, PrimaryReplicaError, PrimaryHeadError int64
	// Replicas are the replicas' statuses, in configuration order.
	Replicas []postgres.ReplicaStatus
	// MaxLag is REPLICA_MAX_LAG.
	MaxLag time.Duration
}

// routeCounters back RouteStats.
type routeCounters struct {
	replica, noReplica, stale, replicaError, headError atomic.Int64
}

// RouteStats returns the counts of reads by target so far, and the
// replicas' statuses.
func (s *Store) RouteStats() RouteStats {
	c := &s.routes
	st := RouteStats{
		Replica: c.replica.Load(), PrimaryNoReplica: c.noReplica.Load(), PrimaryStale: c.stale.Load(),
		PrimaryReplicaError: c.replicaError.Load(), PrimaryHeadError: c.headError.Load(),
		Replicas: s.opts.Replicas.Status(), MaxLag: s.opts.Replicas.MaxLag(),
	}
	return st
}

// headSQL reads the user's change log position: 0 for a user who never
// wrote.
const headSQL = "SELECT coalesce((SELECT h.position FROM change_heads AS h WHERE h.user_id = $1), 0)"

// headStatement reads the user's change log position into *head.
func headStatement(user uuid.UUID, head *int64) statement {
	return statement{name: "store.change_head", sql: headSQL, args: []string{user.String()},
		scan: func(rows pgx.Rows) error {
			*head = 0
			for rows.Next() {
				if err := rows.Scan(head); err != nil {
					return fmt.Errorf("scan change head: %w", err)
				}
			}
			return rows.Err()
		}}
}

// roundTripFor is roundTrip for a read of user's data, which may go to a
// replica.
func (s *Store) roundTripFor(ctx context.Context, user uuid.UUID, stmts ...statement) error {
	r := s.opts.Replicas.Pick()
	if r == nil {
		if s.opts.Replicas != nil {
			s.routes.noReplica.Add(1)
		}
		return s.roundTrip(ctx, stmts...)
	}
	want := s.primaryHead(ctx, user)
	var got int64
	all := append([]statement{headStatement(user, &got)}, stmts...)
	err := s.roundTripOn(ctx, r.DB.DB, all)
	return s.settle(ctx, r, err, got, want, func() error { return s.roundTrip(ctx, stmts...) })
}

// readFor is read for a Bun read of user's data, which may go to a
// replica: fn runs its statements on db, and must be safe to run twice.
func (s *Store) readFor(ctx context.Context, user uuid.UUID, fn func(ctx context.Context, db bun.IDB) error) error {
	onPrimary := func() error {
		return s.read(ctx, func(ctx context.Context) error { return fn(ctx, s.db) })
	}
	r := s.opts.Replicas.Pick()
	if r == nil {
		if s.opts.Replicas != nil {
			s.routes.noReplica.Add(1)
		}
		return onPrimary()
	}
	want := s.primaryHead(ctx, user)
	var got int64
	err := func() error {
		conn, err := r.DB.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		// Before the data, on the same connection: the data's snapshot is
		// then at least as new (see the top of this file).
		if err := conn.Conn.QueryRowContext(ctx, headSQL, user).Scan(&got); err != nil {
			return err
		}
		return fn(ctx, conn)
	}()
	return s.settle(ctx, r, err, got, want, onPrimary)
}

// settle decides whether a replica's answer stands: err is the replica's,
// got the user's position it showed and want the primary's. Otherwise
// onPrimary reads again on the primary, at once: a replica is never the
// reason a read fails.
func (s *Store) settle(ctx context.Context, r *postgres.Replica, err error, got int64, want func() (int64, error), onPrimary func() error) error {
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		var pgErr *pgconn.PgError
		if postgres.Unavailable(err) || !errors.As(err, &pgErr) {
			// The connection broke, not the statement: take the replica
			// out of rotation until its prober finds it answering.
			r.Failed(err)
		}
		s.routes.replicaError.Add(1)
		return onPrimary()
	}
	head, err := want()
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return err
		}
		s.routes.headError.Add(1)
		return onPrimary()
	case got < head:
		s.routes.stale.Add(1)
		return onPrimary()
	}
	s.routes.replica.Add(1)
	return nil
}

// primaryHead starts reading the user's position on the primary and
// returns what waits for it. The lookup takes no turn among the reads
// (Options.MaxActiveReads): it runs beside one that has its turn.
func (s *Store) primaryHead(ctx context.Context, user uuid.UUID) func() (int64, error) {
	type result struct {
		head int64
		err  error
	}
	done := make(chan result, 1) // never blocks, if no one waits
	go func() {
		var head int64
		err := s.read(ctx, func(ctx context.Context) error {
			return s.pipeline(ctx, s.db.DB, []statement{headStatement(user, &head)})
		})
		done <- result{head, err}
	}()
	return func() (int64, error) {
		r := <-done
		if r.err != nil {
			return 0, fmt.Errorf("read change head of user %s on the primary: %w", user, r.err)
		}
		return r.head, nil
	}
}
