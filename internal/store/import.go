package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/models"
)

// ImportRow is one validated row of an import: a set with its images, or a
// wishlist item.
type ImportRow struct {
	Line   int
	Set    *models.Set // nil for a wishlist item
	Images []*models.SetImage
	Item   *models.WishlistItem
	// KeepID says Set.ID came from the file: it is kept unless the
	// database already holds a set with it.
	KeepID bool
}

// ImportOptions say how Import writes.
type ImportOptions struct {
	// SkipExisting skips a row whose canonical set number the user already
	// has (among sets, or among wishlist items for an item), or that an
	// earlier row of the file has.
	SkipExisting bool
	// DryRun does everything and writes nothing.
	DryRun bool
}

// ImportResult is what an import wrote, or would have.
type ImportResult struct {
	Created      int
	SkippedLines []int
}

// Import writes the rows that next hands over, until io.EOF, for user in
// one transaction: COPY into a temporary table, then one set-based insert
// per table, so that neither a row's validation nor its write costs a
// round trip of its own. When commit, asked once every row is in, says no
// (some rows were invalid), nothing is written and the result is empty.
// An error from next stops the import, and nothing is written.
func (s *Store) Import(ctx context.Context, user uuid.UUID, opts ImportOptions,
	next func() (*ImportRow, error), commit func() bool,
) (*ImportResult, error) {
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer conn.Close()
	res := &ImportResult{SkippedLines: []int{}}
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T, not pgx", dc)
		}
		tx, err := sc.Conn().Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
		// One import at a time per user, so that two SKIP_EXISTING imports
		// of the same file cannot both find a set number missing. The
		// two-key form has a key space of its own, apart from the
		// migrator's single-key lock.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", importLockClass, user.String()); err != nil {
			return fmt.Errorf("wait for this user's other import: %w", err)
		}
		if _, err := tx.Exec(ctx, createImportRows); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		src := &importSource{next: next, kept: map[uuid.UUID]bool{}}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_rows"}, importColumns, src); err != nil {
			if src.err != nil {
				return src.err // next's own error, not the database's
			}
			return fmt.Errorf("copy rows: %w", err)
		}
		if !commit() {
			return nil
		}
		if err := writeImport(ctx, tx, user, opts, src.lastLine, res); err != nil {
			return err
		}
		if opts.DryRun {
			return nil
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// importLockClass is the first key of the per-user import lock ("impt").
const importLockClass int32 = 0x696d7074

// createImportRows is the staging table: the columns of sets and
// wishlist_items, and each row's line. ON COMMIT DROP keeps it inside the
// transaction, as a transaction-pooling PgBouncer needs.
const createImportRows = `CREATE TEMP TABLE import_rows (
	line int NOT NULL, wish bool NOT NULL, keep_id bool NOT NULL, id uuid,
	title text NOT NULL, set_number text, store text, source_url text, piece_count int,
	release_date timestamp, theme text, tags text[], notes text, is_built bool, quantity int,
	purchase_price numeric, tax numeric, shipping numeric, purchase_date timestamp,
	wishlist_item_id uuid, created_at timestamp, updated_at timestamp,
	image_urls text[], thumbnail_urls text[], positions int[],
	priority smallint, target_price numeric
) ON COMMIT DROP`

var importColumns = []string{
	"line", "wish", "keep_id", "id", "title", "set_number", "store", "source_url", "piece_count",
	"release_date", "theme", "tags", "notes", "is_built", "quantity",
	"purchase_price", "tax", "shipping", "purchase_date",
	"wishlist_item_id", "created_at", "updated_at",
	"image_urls", "thumbnail_urls", "positions", "priority", "target_price",
}

// importSource hands next's rows to COPY (pgx.CopyFromSource).
type importSource struct {
	next     func() (*ImportRow, error)
	row      *ImportRow
	err      error
	lastLine int
	// kept are the file's own set ids seen so far: a file that repeats one
	// gets a new id for the repeat. Ids made here are never repeated.
	kept map[uuid.UUID]bool
}

func (s *importSource) Next() bool {
	s.row, s.err = s.next()
	if errors.Is(s.err, io.EOF) {
		s.err = nil
		return false
	}
	if s.err != nil {
		return false
	}
	s.lastLine = max(s.lastLine, s.row.Line)
	if set := s.row.Set; set != nil {
		switch {
		case s.row.KeepID && !s.kept[set.ID]:
			s.kept[set.ID] = true
		default:
			set.ID, s.row.KeepID = uuid.New(), false
		}
	}
	return true
}

func (s *importSource) Err() error { return s.err }

func (s *importSource) Values() ([]any, error) {
	r := s.row
	if it := r.Item; it != nil {
		return []any{
			r.Line, true, false, nil, it.Title, it.SetNumber, nil, nil, nil,
			nil, it.Theme, nil, it.Notes, nil, nil,
			nil, nil, nil, nil,
			nil, nil, nil,
			nil, nil, nil, it.Priority, numeric(it.TargetPrice),
		}, nil
	}
	st := r.Set
	var urls, thumbs []string
	var positions []int32
	for _, img := range r.Images {
		urls = append(urls, img.ImageURL)
		thumbs = append(thumbs, textOf(img.ThumbnailURL))
		positions = append(positions, img.Position)
	}
	return []any{
		r.Line, false, r.KeepID, pgtype.UUID{Bytes: st.ID, Valid: true}, st.Title, st.SetNumber, st.Store, st.SourceURL, st.PieceCount,
		st.ReleaseDate, st.Theme, st.Tags, st.Notes, st.IsBuilt, st.Quantity,
		numeric(st.PurchasePrice), numeric(st.Tax), numeric(st.Shipping), st.PurchaseDate,
		optUUID(st.WishlistItemID), optTime(st.CreatedAt), optTime(st.UpdatedAt),
		urls, thumbs, positions, nil, nil,
	}, nil
}

// textOf is s, or "" for none (an image with no thumbnail).
func textOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func numeric(d *decimal.Decimal) any {
	if d == nil {
		return nil
	}
	return pgtype.Numeric{Int: d.Coefficient(), Exp: d.Exponent(), Valid: true}
}

func optUUID(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return pgtype.UUID{Bytes: *id, Valid: true}
}

func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// writeImport moves the staged rows into place. Rows without timestamps
// get the transaction's time minus a microsecond for every line that
// follows them, so that the file's order is the order of creation.
func writeImport(ctx context.Context, tx pgx.Tx, user uuid.UUID, opts ImportOptions, lastLine int, res *ImportResult) error {
	if opts.SkipExisting {
		rows, err := tx.Query(ctx, skipExisting, pgtype.UUID{Bytes: user, Valid: true})
		if err != nil {
			return fmt.Errorf("skip existing set numbers: %w", err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("skip existing set numbers: %w", err)
		}
		for _, l := range lines {
			res.SkippedLines = append(res.SkippedLines, int(l))
		}
		slices.Sort(res.SkippedLines)
	}
	u := pgtype.UUID{Bytes: user, Valid: true}
	steps := []struct {
		what, sql string
		args      []any
		created   bool
	}{
		{"keep ids", `UPDATE import_rows AS r SET id = gen_random_uuid()
			WHERE r.keep_id AND EXISTS (SELECT 1 FROM sets AS s WHERE s.id = r.id)`, nil, false},
		{"link wishlist items", `UPDATE import_rows AS r SET wishlist_item_id = NULL
			WHERE r.wishlist_item_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM wishlist_items AS w
				WHERE w.id = r.wishlist_item_id AND w.user_id = $1)`, []any{u}, false},
		{"insert sets", `INSERT INTO sets (id, user_id, title, set_number, store, source_url, piece_count,
				release_date, theme, tags, notes, is_built, quantity, purchase_price, tax, shipping,
				purchase_date, wishlist_item_id, created_at, updated_at)
			SELECT r.id, $1, r.title, r.set_number, r.store, r.source_url, r.piece_count,
				r.release_date, r.theme, r.tags, r.notes, r.is_built, r.quantity, r.purchase_price, r.tax, r.shipping,
				r.purchase_date, r.wishlist_item_id, coalesce(r.created_at, t.at), coalesce(r.updated_at, r.created_at, t.at)
			FROM import_rows AS r,
				LATERAL (SELECT now() - ($2 - r.line) * interval '1 microsecond' AS at) AS t
			WHERE NOT r.wish ORDER BY r.line`, []any{u, lastLine}, true},
		{"insert images", `INSERT INTO set_images (set_id, image_url, thumbnail_url, position)
			SELECT r.id, i.url, nullif(i.thumb, ''), i.position
			FROM import_rows AS r
				CROSS JOIN LATERAL unnest(r.image_urls, r.thumbnail_urls, r.positions) AS i(url, thumb, position)
			WHERE NOT r.wish AND r.image_urls IS NOT NULL`, nil, false},
		{"insert wishlist items", `INSERT INTO wishlist_items (user_id, title, set_number, theme, priority,
				target_price, notes, created_at, updated_at)
			SELECT $1, r.title, r.set_number, r.theme, r.priority, r.target_price, r.notes, t.at, t.at
			FROM import_rows AS r,
				LATERAL (SELECT now() - ($2 - r.line) * interval '1 microsecond' AS at) AS t
			WHERE r.wish ORDER BY r.line`, []any{u, lastLine}, true},
	}
	for _, st := range steps {
		tag, err := tx.Exec(ctx, st.sql, st.args...)
		if err != nil {
			return fmt.Errorf("import: %s: %w", st.what, err)
		}
		if st.created {
			res.Created += int(tag.RowsAffected())
		}
	}
	return nil
}

// skipExisting deletes the staged rows whose canonical set number the user
// already has where the row would go, or that an earlier row has, and
// returns their lines.
const skipExisting = `DELETE FROM import_rows AS r USING (
	SELECT k.line FROM (
		SELECT line, wish, c, row_number() OVER (PARTITION BY wish, c ORDER BY line) AS n
		FROM (SELECT line, wish, canonical_set_number(set_number) AS c FROM import_rows) AS k0
		WHERE c IS NOT NULL
	) AS k
	WHERE k.n > 1
		OR (NOT k.wish AND EXISTS (SELECT 1 FROM sets AS s WHERE s.user_id = $1 AND s.canonical_set_number = k.c))
		OR (k.wish AND EXISTS (SELECT 1 FROM wishlist_items AS w WHERE w.user_id = $1 AND w.canonical_set_number = k.c))
) AS x WHERE r.line = x.line
RETURNING r.line`
