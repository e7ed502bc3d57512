package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/models"
)

// ExportOptions say which of a user's sets an export reads, and with what.
type ExportOptions struct {
	// Theme, when set, keeps only the sets of exactly that theme.
	Theme *string
	// Images asks for each set's images.
	Images bool
	// BatchSize is how many sets each batch holds; 1,000 when zero.
	BatchSize int
}

// ExportBatch is one batch of an export: sets in export order (oldest
// first, then by id) and, when asked for, their images by set id.
type ExportBatch struct {
	Sets   []*models.Set
	Images map[uuid.UUID][]*models.SetImage
}

// ExportSets hands the user's sets to fn batch by batch, oldest first,
// each batch's sets and images read in one round trip. Batches follow each
// other by keyset (created_at, id), so that memory holds one batch however
// large the collection, no statement stays open while fn writes to a slow
// client, and each batch reads an index range instead of skipping rows.
// Sets added while an export runs may or may not be in it; none is read
// twice or skipped otherwise. It stops at fn's first error, or when ctx is
// done.
func (s *Store) ExportSets(ctx context.Context, user uuid.UUID, opts ExportOptions, fn func(ExportBatch) error) error {
	size := opts.BatchSize
	if size <= 0 {
		size = 1000
	}
	args := []string{user.String()}
	where := "s.user_id = $1"
	if opts.Theme != nil {
		args = append(args, *opts.Theme)
		where += " AND s.theme = $2"
	}
	first := selectBatch(where, size)
	n := len(args)
	next := selectBatch(fmt.Sprintf("%s AND (s.created_at, s.id) > ($%d::timestamp, $%d::uuid)", where, n+1, n+2), size)
	query, done := first, 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := ExportBatch{Images: map[uuid.UUID][]*models.SetImage{}}
		stmts := []statement{{sql: query("SELECT " + setColumns), args: args, scan: scanSets(&b.Sets, size)}}
		if opts.Images {
			images := "SELECT " + imageColumns + " FROM unnest(ARRAY(" + query("SELECT s.id") + ")) AS p(id) " +
				"CROSS JOIN LATERAL (SELECT " + imageColumns + " FROM set_images AS i " +
				"WHERE i.set_id = p.id ORDER BY i.position, i.id) AS i"
			stmts = append(stmts, statement{sql: images, args: args, scan: scanImages(b.Images, size)})
		}
		if err := s.roundTripFor(ctx, user, stmts...); err != nil {
			return fmt.Errorf("export sets after %d: %w", done, err)
		}
		if len(b.Sets) == 0 {
			return nil
		}
		if err := fn(b); err != nil {
			return err
		}
		if done += len(b.Sets); len(b.Sets) < size {
			return nil
		}
		last := b.Sets[len(b.Sets)-1]
		args = append(args[:n], last.CreatedAt.UTC().Format("2006-01-02 15:04:05.999999"), last.ID.String())
		query = next
	}
}

// selectBatch returns, for a select list, the statement of one batch of
// sets matching where, in export order.
func selectBatch(where string, size int) func(columns string) string {
	return func(columns string) string {
		return columns + " FROM sets AS s WHERE " + where +
			" ORDER BY s.created_at, s.id LIMIT " + strconv.Itoa(size)
	}
}
