package media

import (
	"context"
	"log/slog"
	"time"
)

// Queue is the deletion queue the janitor works through
// (store.Store.DeleteQueuedMedia).
type Queue interface {
	DeleteQueuedMedia(ctx context.Context, limit int, remove func(ctx context.Context, key string) error) (done, failed int, err error)
}

// janitorBatch is how many files one pass removes at most.
const janitorBatch = 100

// RunJanitor removes the files of deleted photos from st, as q queues
// them, every interval until ctx ends; a full batch is followed at once by
// the next. Failures stay queued and are retried with back-off.
func RunJanitor(ctx context.Context, q Queue, st Store, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		done, failed, err := q.DeleteQueuedMedia(ctx, janitorBatch, func(ctx context.Context, key string) error {
			err := st.Delete(ctx, key)
			CrashPoint("janitor:after-remove")
			return err
		})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.WarnContext(ctx, "media janitor", "err", err)
		case done+failed > 0:
			log.InfoContext(ctx, "media janitor", "removed", done, "failed", failed)
		}
		if err == nil && done+failed == janitorBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// GC removes the files of st that no row points at and no deletion is
// queued for, written before olderThan ago (a younger file may belong to an
// upload whose row is being written: files go in before rows). It returns
// how many files it looked at and how many it removed.
func GC(ctx context.Context, st Store, referenced func(ctx context.Context, keys []string) (map[string]bool, error), olderThan time.Duration) (seen, removed int, err error) {
	cutoff := time.Now().Add(-olderThan)
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		live, err := referenced(ctx, batch)
		if err != nil {
			return err
		}
		for _, k := range batch {
			if live[k] {
				continue
			}
			if err := st.Delete(ctx, k); err != nil {
				return err
			}
			removed++
		}
		batch = batch[:0]
		return nil
	}
	err = st.List(ctx, func(key string, written time.Time) error {
		seen++
		if written.After(cutoff) {
			return nil
		}
		batch = append(batch, key)
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return seen, removed, err
}
