package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/brickgallery/sets/models"
)

// Change is one entry of a user's change log.
type Change = models.Change

// ErrCursorExpired is returned for a position the log no longer reaches:
// what came after it has been pruned, or the log never held it.
var ErrCursorExpired = errors.New("change log cursor expired")

// ChangeHead returns the user's last position in the change log, 0 before
// the first change. Every change up to it has committed (positions are
// handed out under the head's row lock, so in commit order), and the log's
// next entry will be after it.
//
// The change log is read on the primary: a replica's log could be behind
// the head a client was given.
func (s *Store) ChangeHead(ctx context.Context, user uuid.UUID) (int64, error) {
	var head int64
	err := s.read(ctx, func(ctx context.Context) error {
		head = 0
		err := s.db.NewRaw(`SELECT position FROM change_heads WHERE user_id = ?`, user).Scan(ctx, &head)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read change head: %w", err)
	}
	return head, nil
}

// Changes returns up to limit of the user's changes after position after,
// oldest first. It returns ErrCursorExpired when the entry right after
// after has been pruned, or after is past the head (a cursor of a database
// restored to an earlier point).
func (s *Store) Changes(ctx context.Context, user uuid.UUID, after int64, limit int) ([]Change, error) {
	var out []Change
	err := s.read(ctx, func(ctx context.Context) error {
		out = out[:0]
		// One round trip: the bounds, then the page; both from one
		// snapshot, so a change committed in between cannot make a
		// fresh cursor look expired.
		var bounds struct {
			Head   int64 `bun:"head"`
			Oldest int64 `bun:"oldest"`
		}
		if err := s.db.NewRaw(`SELECT coalesce((SELECT position FROM change_heads WHERE user_id = ?0), 0) AS head,
				coalesce((SELECT min(position) FROM changes WHERE user_id = ?0), 0) AS oldest`, user).
			Scan(ctx, &bounds); err != nil {
			return err
		}
		switch {
		case after == bounds.Head:
			return nil
		case after > bounds.Head, bounds.Oldest == 0, after+1 < bounds.Oldest:
			// Past the head, or the entry after it is gone.
			return ErrCursorExpired
		}
		return s.db.NewRaw(`SELECT user_id, position, kind, entity_id, at FROM changes
			WHERE user_id = ? AND position > ? AND position <= ? ORDER BY position LIMIT ?`,
			user, after, bounds.Head, limit).Scan(ctx, &out)
	})
	if errors.Is(err, ErrCursorExpired) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return out, nil
}

// ChangesFor returns, for each of users, its changes after the position
// given, oldest first, up to limit in all per user: the live-updates hub
// catches every subscribed user up with one statement after a notification
// or a lost listener connection.
func (s *Store) ChangesFor(ctx context.Context, after map[uuid.UUID]int64, limit int) ([]Change, error) {
	if len(after) == 0 {
		return nil, nil
	}
	users := make([]string, 0, len(after))
	positions := make([]int64, 0, len(after))
	for u, p := range after {
		users = append(users, u.String())
		positions = append(positions, p)
	}
	var out []Change
	err := s.read(ctx, func(ctx context.Context) error {
		out = out[:0]
		return s.db.NewRaw(`SELECT c.user_id, c.position, c.kind, c.entity_id, c.at
			FROM unnest(?::uuid[], ?::bigint[]) AS f (user_id, after)
			CROSS JOIN LATERAL (SELECT * FROM changes c
				WHERE c.user_id = f.user_id AND c.position > f.after
				ORDER BY c.position LIMIT ?) c
			ORDER BY c.user_id, c.position`, pgdialect.Array(users), pgdialect.Array(positions), limit).Scan(ctx, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("read changes of %d users: %w", len(after), err)
	}
	return out, nil
}

// PruneChanges deletes, in batches of at most batch rows, the changes that
// are both older than keepFor and not among their user's last keepLast
// (SPEC §11: at least 30 days and at least the last 10,000 per user). It
// returns how many it deleted.
func (s *Store) PruneChanges(ctx context.Context, keepFor time.Duration, keepLast, batch int) (int64, error) {
	var total int64
	for {
		res, err := s.db.NewRaw(`DELETE FROM changes WHERE (user_id, position) IN (
				SELECT c.user_id, c.position FROM changes c JOIN change_heads h ON h.user_id = c.user_id
				WHERE c.at < now() - ?::interval AND c.position <= h.position - ?
				LIMIT ?)`,
			fmt.Sprintf("%d microseconds", keepFor.Microseconds()), keepLast, batch).Exec(ctx)
		if err != nil {
			return total, fmt.Errorf("prune changes: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < int64(batch) || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
