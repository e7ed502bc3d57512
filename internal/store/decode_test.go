package store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestRowDecoderReadsWhatPgxWrites: the hand-written binary decoding of
// timestamps and text arrays gives what pgx encodes, at the edges (before
// and after PostgreSQL's epoch, to the microsecond; empty arrays and
// strings), and refuses what it cannot represent instead of misreading it.
func TestRowDecoderReadsWhatPgxWrites(t *testing.T) {
	m := pgtype.NewMap()
	encode := func(oid uint32, v any) []byte {
		t.Helper()
		b, err := m.Encode(oid, pgtype.BinaryFormatCode, v, nil)
		if err != nil {
			t.Fatalf("encode %v: %v", v, err)
		}
		return b
	}
	for _, want := range []time.Time{
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC), // -1 µs
		time.Date(1949, 3, 1, 12, 30, 0, 500000000, time.UTC),
		time.Date(2100, 12, 31, 23, 59, 59, 123456000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
	} {
		var d rowDecoder
		d.next([][]byte{encode(pgtype.TimestampOID, pgtype.Timestamp{Time: want, Valid: true})})
		if got := d.timestamp(); d.end() != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("timestamp %v: got %v (%v), %v", want, got, got.Location(), d.end())
		}
	}
	for _, want := range [][]string{{}, {"ucs"}, {"", "ünïcode", `quote"d`, "comma,ed", strings.Repeat("x", 1000)}} {
		var d rowDecoder
		d.next([][]byte{encode(pgtype.TextArrayOID, want)})
		got := d.textArray()
		if err := d.end(); err != nil || got == nil || !cmp.Equal(want, got) {
			t.Errorf("text[] %q: got %q, %v", want, got, err)
		}
	}

	refused := map[string][][]byte{
		"infinite timestamp": {encode(pgtype.TimestampOID, pgtype.Timestamp{InfinityModifier: pgtype.Infinity, Valid: true})},
		"NULL in text[]":     {encode(pgtype.TextArrayOID, []*string{nil})},
		// ndim 2, no NULLs, text; 1×1 from 1; one element "a".
		"2-D text[]":       {{0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 'a'}},
		"truncated text[]": {encode(pgtype.TextArrayOID, []string{"abc"})[:22]},
	}
	for name, raw := range refused {
		var d rowDecoder
		d.next(raw)
		if strings.Contains(name, "timestamp") {
			d.timestamp()
		} else {
			d.textArray()
		}
		if d.end() == nil {
			t.Errorf("%s: no error", name)
		}
	}

	var d rowDecoder
	d.next([][]byte{nil, {1, 2, 3}})
	d.uuid()
	if err := d.end(); err == nil || !strings.Contains(err.Error(), "NULL") {
		t.Errorf("NULL in a NOT NULL column: %v", err)
	}
	d = rowDecoder{}
	d.next([][]byte{nil, {1, 2, 3}})
	if d.optUUID(new(uuid.UUID)) != nil || d.optInt4(new(int32)) != nil || d.end() == nil {
		t.Errorf("a 3-byte int4: no error")
	}
	d = rowDecoder{}
	d.next([][]byte{{0, 0, 0, 7}, {0, 0, 0, 8}})
	if d.int4(); d.end() == nil {
		t.Error("a column left unread: no error")
	}
}
