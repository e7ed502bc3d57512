package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/models"
)

// The read paths that serve a page of the gallery, one set or the themes
// send their statements together, in one round trip, and read the rows
// below database/sql, in PostgreSQL's binary format (sets and photos by
// the decoder of decode.go, the rest with pgx's Scan). Bun still writes the
// SQL of the statements whose shape depends on the request (filters,
// cursors, ordering); what they skip is a round trip per statement and
// database/sql's and Bun's reflective scanning, which together were most of
// the server's CPU per gallery page (bench/HISTORY.md).

// statement is one query of a round trip and what reads its rows.
type statement struct {
	// name, when set, marks sql as a fixed-shape statement with $n
	// parameters (args, in text format), prepared once per connection and
	// then planned once. Only for statements whose plan cannot depend on
	// the values (key lookups): a generic plan for a user-scoped range scan
	// read a heavy collector's whole theme and sorted it, ten times slower
	// than the custom plan, so those carry their values as literals and
	// are planned each time.
	name string
	sql  string
	args []string
	scan func(pgx.Rows) error
}

// binaryResults asks for every result column in binary format.
var binaryResults = []int16{pgx.BinaryFormatCode}

// roundTrip sends the statements in one pipeline on one pooled connection
// (one Sync: PostgreSQL runs them as one implicit transaction, so a failure
// in any of them fails all) and hands each statement's rows to its scan
// function, in order. A round trip that meets an unreachable database is
// sent again (Options.Retry): these are reads, and every scan function
// starts its destination afresh, so rows of a failed attempt never stay.
func (s *Store) roundTrip(ctx context.Context, stmts ...statement) error {
	return s.opts.Retry.Read(ctx, func(ctx context.Context) error {
		return s.roundTripOnce(ctx, stmts)
	})
}

func (s *Store) roundTripOnce(ctx context.Context, stmts []statement) error {
	return s.roundTripOn(ctx, s.db.DB, stmts)
}

// roundTripOn is one attempt of a round trip on db (the primary's pool or
// a replica's), in its turn among the reads (Options.MaxActiveReads).
func (s *Store) roundTripOn(ctx context.Context, db *sql.DB, stmts []statement) error {
	if s.reads != nil {
		if err := s.startRead(ctx); err != nil {
			return err
		}
		defer func() { <-s.reads }()
	}
	return s.pipeline(ctx, db, stmts)
}

// pipeline sends stmts in one pipeline on a connection of db.
func (s *Store) pipeline(ctx context.Context, db *sql.DB, stmts []statement) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("round trip: driver connection is %T, not pgx", dc)
		}
		c := sc.Conn()
		if s.opts.Tracer != nil {
			ctx = s.trace(ctx, c, stmts)
			defer func() { s.opts.Tracer.TraceBatchEnd(ctx, c, pgx.TraceBatchEndData{Err: err}) }()
		}
		b := &pgconn.Batch{}
		for _, st := range stmts {
			params := make([][]byte, len(st.args))
			for i, a := range st.args {
				params[i] = []byte(a)
			}
			if st.name == "" || s.opts.NoPrepare {
				b.ExecParams(st.sql, params, nil, nil, binaryResults)
				continue
			}
			// A no-op once the connection has it.
			sd, err := c.Prepare(ctx, st.name, st.sql)
			if err != nil {
				return fmt.Errorf("prepare %s: %w", st.name, err)
			}
			b.ExecStatement(sd, params, nil, binaryResults)
		}
		// A connection that fails mid-batch is closed by pgx, and
		// database/sql drops closed ones (stdlib.Conn.ResetSession) instead
		// of pooling them again.
		mrr := c.PgConn().ExecBatch(ctx, b)
		var scanErr error
		for _, st := range stmts {
			if !mrr.NextResult() {
				break
			}
			rows := pgx.RowsFromResultReader(c.TypeMap(), mrr.ResultReader())
			if scanErr == nil {
				scanErr = st.scan(rows)
			}
			rows.Close()
			if scanErr == nil {
				scanErr = rows.Err()
			}
		}
		if err := mrr.Close(); err != nil {
			if stalePrepared(err) {
				// Forget this connection's prepared statements, so the
				// next request prepares them afresh, instead of failing
				// on this connection until it closes.
				_ = c.DeallocateAll(context.WithoutCancel(ctx))
			}
			return err
		}
		return scanErr
	})
}

// startRead takes a place among the reads running at once, waiting for one
// when all are taken. Goroutines blocked sending on a channel are woken in
// the order they blocked, and a freed place goes to the first of them
// rather than to a newcomer: the queue is first come, first served.
func (s *Store) startRead(ctx context.Context) error {
	select {
	case s.reads <- struct{}{}:
		return nil
	default:
	}
	start := time.Now()
	s.readsWaiting.Add(1)
	defer func() {
		s.readsWaiting.Add(-1)
		s.readWaits.Add(1)
		s.readWaitNanos.Add(int64(time.Since(start)))
	}()
	select {
	case s.reads <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stalePrepared reports whether err says a prepared statement no longer
// fits the database: a migration changed the type of a column it returns
// ("cached plan must not change result type"), or the statement is gone
// (a pooler or DISCARD ALL dropped it).
func stalePrepared(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "0A000" || pgErr.Code == "26000")
}

// trace tells the tracer about a round trip as pgx tells it about a batch
// (pgx's own tracer does not see what is sent below pgx.Conn).
func (s *Store) trace(ctx context.Context, c *pgx.Conn, stmts []statement) context.Context {
	b := &pgx.Batch{}
	for _, st := range stmts {
		args := make([]any, len(st.args))
		for i, a := range st.args {
			args[i] = a
		}
		b.Queue(st.sql, args...)
	}
	return s.opts.Tracer.TraceBatchStart(ctx, c, pgx.TraceBatchStartData{Batch: b})
}

// setColumns are the columns scanSets reads, in its order: the Set model's
// columns (TestColumnListsCoverModels), each landing in its own field
// (TestRoundTripReadsMatchBun); setColumnTypes are their types, which
// scanSets checks before it decodes a row.
var setColumns, setColumnTypes = columnList(
	scanned{"s.id", pgtype.UUIDOID}, scanned{"s.user_id", pgtype.UUIDOID}, scanned{"s.title", pgtype.TextOID},
	scanned{"s.set_number", pgtype.TextOID}, scanned{"s.canonical_set_number", pgtype.TextOID},
	scanned{"s.store", pgtype.TextOID}, scanned{"s.source_url", pgtype.TextOID},
	scanned{"s.piece_count", pgtype.Int4OID}, scanned{"s.release_date", pgtype.TimestampOID},
	scanned{"s.theme", pgtype.TextOID}, scanned{"s.tags", pgtype.TextArrayOID}, scanned{"s.notes", pgtype.TextOID},
	scanned{"s.is_built", pgtype.BoolOID}, scanned{"s.quantity", pgtype.Int4OID},
	scanned{"s.purchase_price", pgtype.NumericOID}, scanned{"s.tax", pgtype.NumericOID},
	scanned{"s.shipping", pgtype.NumericOID}, scanned{"s.purchase_date", pgtype.TimestampOID},
	scanned{"s.wishlist_item_id", pgtype.UUIDOID},
	scanned{"s.created_at", pgtype.TimestampOID}, scanned{"s.updated_at", pgtype.TimestampOID},
)

// scanned is a column a positional scan reads, and its type.
type scanned struct {
	name string
	oid  uint32
}

// columnList returns cols as a select list, and their types.
func columnList(cols ...scanned) (string, []uint32) {
	names := make([]string, len(cols))
	oids := make([]uint32, len(cols))
	for i, c := range cols {
		names[i], oids[i] = c.name, c.oid
	}
	return strings.Join(names, ", "), oids
}

// setRow is a set and room for the values of its nullable columns. The
// set's pointer fields point into it, so a row's values cost no allocation
// of their own, where they cost one per non-NULL column (a tenth of a gallery page's CPU went
// to those allocations and the garbage collection behind them).
type setRow struct {
	set                  models.Set
	setNumber, canonical string
	store, url           string
	theme, notes         string
	pieceCount           int32
	released, purchased  time.Time
	money                [3]decimal.Decimal
	wishlist             uuid.UUID
}

// slab hands out zeroed values from chunks: the first as large as the rows
// the caller expects, the next ones each twice the last (up to 256), so
// that a result of n rows costs a couple of allocations instead of n.
// Chunks that doubled from 1 allocated and cleared two and a half rows for
// every row of a gallery page. Values stay alive as long as any value of
// their chunk does.
type slab[T any] struct {
	free  []T
	size  int
	first int
}

// newSlab returns a slab whose first chunk holds expect values.
func newSlab[T any](expect int) slab[T] {
	return slab[T]{first: expect}
}

func (s *slab[T]) next() *T {
	if len(s.free) == 0 {
		n := s.first
		if s.size > 0 {
			n = 2 * s.size
		}
		s.size = min(max(n, 1), 256)
		s.free = make([]T, s.size)
	}
	v := &s.free[0]
	s.free = s.free[1:]
	return v
}

// scanSets sets *dst to the rows (of setColumns); expect is how many rows
// there may be.
func scanSets(dst *[]*models.Set, expect int) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		*dst = (*dst)[:0] // a retried round trip scans again
		if err := checkColumns("set", rows.FieldDescriptions(), setColumnTypes); err != nil {
			return err
		}
		rs := newSlab[setRow](expect)
		*dst = slices.Grow(*dst, expect)
		var d rowDecoder
		for rows.Next() {
			d.next(rows.RawValues())
			r := rs.next()
			s := &r.set
			// In setColumns' order.
			s.ID, s.UserID, s.Title = d.uuid(), d.uuid(), d.text()
			s.SetNumber, s.CanonicalSetNumber = d.optText(&r.setNumber), d.optText(&r.canonical)
			s.Store, s.SourceURL = d.optText(&r.store), d.optText(&r.url)
			s.PieceCount, s.ReleaseDate = d.optInt4(&r.pieceCount), d.optTimestamp(&r.released)
			s.Theme, s.Tags, s.Notes = d.optText(&r.theme), d.textArray(), d.optText(&r.notes)
			s.IsBuilt, s.Quantity = d.bool(), d.int4()
			s.PurchasePrice, s.Tax, s.Shipping = d.money(&r.money[0]), d.money(&r.money[1]), d.money(&r.money[2])
			s.PurchaseDate, s.WishlistItemID = d.optTimestamp(&r.purchased), d.optUUID(&r.wishlist)
			s.CreatedAt, s.UpdatedAt = d.timestamp(), d.timestamp()
			if err := d.end(); err != nil {
				return fmt.Errorf("scan set: %w", err)
			}
			*dst = append(*dst, s)
		}
		return rows.Err()
	}
}

// imageColumns are the columns scanImages reads, in its order, and
// imageColumnTypes their types.
var imageColumns, imageColumnTypes = columnList(
	scanned{"i.id", pgtype.UUIDOID}, scanned{"i.set_id", pgtype.UUIDOID}, scanned{"i.image_url", pgtype.TextOID},
	scanned{"i.thumbnail_url", pgtype.TextOID}, scanned{"i.position", pgtype.Int4OID},
	scanned{"i.created_at", pgtype.TimestampOID},
	scanned{"i.media_key", pgtype.TextOID}, scanned{"i.thumbnail_key", pgtype.TextOID},
	scanned{"i.width", pgtype.Int4OID}, scanned{"i.height", pgtype.Int4OID},
	scanned{"i.content_type", pgtype.TextOID}, scanned{"i.byte_size", pgtype.Int4OID},
)

// scanImages groups every row (of imageColumns) by set into dst, each
// set's images in display order (position, then id) whatever the rows'
// order, so that no statement's plan decides what a collector sees. A set's
// rows that arrive together (as every statement of ours sends them) share
// one backing slice: its images are a window of it, not a slice grown image
// by image. expect is about how many rows there will be.
func scanImages(dst map[uuid.UUID][]*models.SetImage, expect int) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		clear(dst) // a retried round trip scans again
		if err := checkColumns("image", rows.FieldDescriptions(), imageColumnTypes); err != nil {
			return err
		}
		// As setRow: the image and its nullable column, side by side.
		rs := newSlab[struct {
			img                         models.SetImage
			thumb, key, thumbKey, ctype string
			width, height, size         int32
		}](expect)
		var d rowDecoder
		all := make([]*models.SetImage, 0, expect)
		start := 0 // of the current set's run in all
		closeRun := func() {
			if start == len(all) {
				return
			}
			id, run := all[start].SetID, all[start:len(all):len(all)]
			if prev, ok := dst[id]; ok { // the set came before
				run = append(prev, run...)
			}
			if !slices.IsSortedFunc(run, displayOrder) {
				slices.SortFunc(run, displayOrder)
			}
			dst[id] = run
			start = len(all)
		}
		for rows.Next() {
			r := rs.next()
			img := &r.img
			d.next(rows.RawValues())
			img.ID, img.SetID, img.ImageURL, img.ThumbnailURL = d.uuid(), d.uuid(), d.text(), d.optText(&r.thumb)
			img.Position, img.CreatedAt = d.int4(), d.timestamp()
			img.MediaKey, img.ThumbnailKey = d.optText(&r.key), d.optText(&r.thumbKey)
			img.Width, img.Height = d.optInt4(&r.width), d.optInt4(&r.height)
			img.ContentType, img.ByteSize = d.optText(&r.ctype), d.optInt4(&r.size)
			if err := d.end(); err != nil {
				return fmt.Errorf("scan image: %w", err)
			}
			if start < len(all) && all[start].SetID != img.SetID {
				closeRun()
			}
			all = append(all, img)
		}
		closeRun()
		return rows.Err()
	}
}

// displayOrder orders one set's images as the API lists them: by position,
// then by id.
func displayOrder(a, b *models.SetImage) int {
	if c := cmp.Compare(a.Position, b.Position); c != 0 {
		return c
	}
	return compareIDs(a.ID, b.ID)
}

// compareIDs orders uuids as PostgreSQL does: bytewise.
func compareIDs(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// scanCount reads a single count(*) into *n, saturated like every total.
func scanCount(n *int32) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var c int64
		for rows.Next() {
			if err := rows.Scan(&c); err != nil {
				return fmt.Errorf("scan count: %w", err)
			}
		}
		*n = clamp32(c)
		return rows.Err()
	}
}
