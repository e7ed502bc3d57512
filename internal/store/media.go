package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// maxDeletionBackoff caps the wait between attempts to remove one file: a
// store that is down for a day is retried every hour, not given up on.
const maxDeletionBackoff = time.Hour

// DeleteQueuedMedia takes up to limit of the media keys queued for
// deletion (by the trigger on set_images) that are due, and hands each to
// remove: a key it removes leaves the queue; a key it fails on is tried
// again later, after 2^attempts seconds up to an hour. Keys another
// instance is working on are skipped (SKIP LOCKED). It returns how many
// keys were removed and how many failed.
func (s *Store) DeleteQueuedMedia(ctx context.Context, limit int, remove func(ctx context.Context, key string) error) (done, failed int, err error) {
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var keys []string
		if err := tx.NewRaw(`SELECT key FROM media_deletions WHERE next_attempt_at <= now()
			ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED`, limit).Scan(ctx, &keys); err != nil {
			return fmt.Errorf("take queued media deletions: %w", err)
		}
		var removed []string
		for _, k := range keys {
			if rerr := remove(ctx, k); rerr != nil {
				failed++
				if _, err := tx.NewRaw(`UPDATE media_deletions SET attempts = attempts + 1, last_error = ?,
					next_attempt_at = now() + least(power(2, attempts) * interval '1 second', ?::interval)
					WHERE key = ?`, rerr.Error(), fmt.Sprintf("%d seconds", int(maxDeletionBackoff.Seconds())), k).Exec(ctx); err != nil {
					return fmt.Errorf("postpone deletion of %s: %w", k, err)
				}
				continue
			}
			removed = append(removed, k)
		}
		if len(removed) > 0 {
			if _, err := tx.NewRaw(`DELETE FROM media_deletions WHERE key = ANY(?)`, pgdialect.Array(removed)).Exec(ctx); err != nil {
				return fmt.Errorf("dequeue removed media: %w", err)
			}
		}
		done = len(removed)
		return nil
	})
	return done, failed, err
}

// ReferencedMedia returns which of keys a row still points at, or the
// deletion queue still holds: the files `db media-gc` must leave alone.
func (s *Store) ReferencedMedia(ctx context.Context, keys []string) (map[string]bool, error) {
	var found []string
	err := s.db.NewRaw(`SELECT k FROM unnest(?::text[]) AS k
		WHERE EXISTS (SELECT 1 FROM set_images WHERE media_key = k)
		   OR EXISTS (SELECT 1 FROM set_images WHERE thumbnail_key = k)
		   OR EXISTS (SELECT 1 FROM media_deletions WHERE key = k)`, pgdialect.Array(keys)).Scan(ctx, &found)
	if err != nil {
		return nil, fmt.Errorf("look up media keys: %w", err)
	}
	out := make(map[string]bool, len(found))
	for _, k := range found {
		out[k] = true
	}
	return out, nil
}
