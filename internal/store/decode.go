package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
)

// The gallery's rows (sets and photos) are decoded here from PostgreSQL's
// binary format, column by column, instead of through pgx's Rows.Scan: on a
// page of 50 sets and their photos, Scan's per-column plan dispatch and a
// string allocation per text value were a fifth of the server's CPU (pprof
// under wrk). Only the handful of types these two tables use are read, and
// checkColumns refuses a result whose columns are not exactly those types,
// so a migration that changes a column fails loudly in the tests instead of
// being misread.

// checkColumns verifies that a result has the columns want describes, each
// of that type and in binary format.
func checkColumns(what string, fds []pgconn.FieldDescription, want []uint32) error {
	if len(fds) != len(want) {
		return fmt.Errorf("scan %s: %d columns, want %d", what, len(fds), len(want))
	}
	for i, fd := range fds {
		if got, ok := binaryAlike[fd.DataTypeOID]; !ok || got != binaryAlike[want[i]] || fd.Format != pgx.BinaryFormatCode {
			return fmt.Errorf("scan %s: column %d (%s) has type oid %d in format %d, want oid %d in binary",
				what, i, fd.Name, fd.DataTypeOID, fd.Format, want[i])
		}
	}
	return nil
}

// binaryAlike maps a type to one whose binary format it shares (itself
// when there is none), so that a migration from text to varchar, or from
// timestamp to timestamptz, is read as before.
var binaryAlike = func() map[uint32]uint32 {
	m := map[uint32]uint32{
		pgtype.VarcharOID: pgtype.TextOID, pgtype.VarcharArrayOID: pgtype.TextArrayOID,
		pgtype.TimestamptzOID: pgtype.TimestampOID,
	}
	for _, oid := range []uint32{pgtype.UUIDOID, pgtype.TextOID, pgtype.TextArrayOID, pgtype.Int4OID,
		pgtype.BoolOID, pgtype.NumericOID, pgtype.TimestampOID} {
		m[oid] = oid
	}
	return m
}()

// rowDecoder reads one row's binary values in column order; each method
// reads the next column. The first malformed value is kept in err (and
// later reads return zero values), so a row is read straight through and
// checked once, by end.
//
// Text values are copied into chunks shared by the whole result, so a page
// costs a few allocations for its text instead of one per value; a chunk
// stays alive while any string of it does, which for a page is as long as
// the request.
type rowDecoder struct {
	raw   [][]byte
	col   int
	err   error
	chars []byte   // the current chunk of text; strings point into it
	strs  []string // the current chunk of text-array elements
}

// next starts a row.
func (d *rowDecoder) next(raw [][]byte) {
	d.raw, d.col = raw, 0
}

// end reports the row's first error, or a count of columns read that does
// not match the row's.
func (d *rowDecoder) end() error {
	if d.err == nil && d.col != len(d.raw) {
		d.err = fmt.Errorf("read %d of %d columns", d.col, len(d.raw))
	}
	return d.err
}

// value returns the next column's bytes, nil for NULL, and whether it has
// the given size (any size when size < 0).
func (d *rowDecoder) value(size int) ([]byte, bool) {
	i := d.col
	d.col++
	if d.err != nil {
		return nil, false
	}
	if i >= len(d.raw) {
		d.err = fmt.Errorf("column %d: past the row's %d columns", i, len(d.raw))
		return nil, false
	}
	b := d.raw[i]
	if b != nil && size >= 0 && len(b) != size {
		d.err = fmt.Errorf("column %d: %d bytes, want %d", i, len(b), size)
		return nil, false
	}
	return b, b != nil
}

// notNull marks a NULL in a NOT NULL column as an error.
func (d *rowDecoder) notNull(b []byte) {
	if b == nil && d.err == nil {
		d.err = fmt.Errorf("column %d: unexpected NULL", d.col-1)
	}
}

// string copies b into the current text chunk and returns it as a string.
// The chunk's bytes are never written again once a string covers them,
// which is what makes unsafe.String sound here.
func (d *rowDecoder) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(d.chars)-len(d.chars) < len(b) {
		// Chunks grow with the result (a single set's text fits in the
		// first), up to 16 KiB, about a page's worth.
		d.chars = make([]byte, 0, max(len(b), min(2*cap(d.chars), 16<<10), 512))
	}
	start := len(d.chars)
	d.chars = append(d.chars, b...)
	return unsafe.String(&d.chars[start], len(b))
}

func (d *rowDecoder) uuid() (id uuid.UUID) {
	b, ok := d.value(16)
	d.notNull(b)
	if ok {
		copy(id[:], b)
	}
	return id
}

func (d *rowDecoder) optUUID(dst *uuid.UUID) *uuid.UUID {
	b, ok := d.value(16)
	if !ok {
		return nil
	}
	copy(dst[:], b)
	return dst
}

func (d *rowDecoder) text() string {
	b, _ := d.value(-1)
	d.notNull(b)
	return d.string(b)
}

func (d *rowDecoder) optText(dst *string) *string {
	b, ok := d.value(-1)
	if !ok {
		return nil
	}
	*dst = d.string(b)
	return dst
}

func (d *rowDecoder) int4() int32 {
	b, ok := d.value(4)
	d.notNull(b)
	if !ok {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (d *rowDecoder) optInt4(dst *int32) *int32 {
	b, ok := d.value(4)
	if !ok {
		return nil
	}
	*dst = int32(binary.BigEndian.Uint32(b))
	return dst
}

func (d *rowDecoder) bool() bool {
	b, ok := d.value(1)
	d.notNull(b)
	return ok && b[0] != 0
}

func (d *rowDecoder) timestamp() time.Time {
	b, ok := d.value(8)
	d.notNull(b)
	if !ok {
		return time.Time{}
	}
	return d.decodeTimestamp(b)
}

func (d *rowDecoder) optTimestamp(dst *time.Time) *time.Time {
	b, ok := d.value(8)
	if !ok {
		return nil
	}
	*dst = d.decodeTimestamp(b)
	return dst
}

// y2k is PostgreSQL's epoch, 2000-01-01, in Unix seconds.
const y2k = 946684800

// decodeTimestamp reads a timestamp (without time zone): microseconds
// since 2000-01-01, in UTC as pgx reads it. Infinities are refused: no
// time.Time holds them, and the API never stores them.
func (d *rowDecoder) decodeTimestamp(b []byte) time.Time {
	us := int64(binary.BigEndian.Uint64(b))
	if us == 1<<63-1 || us == -1<<63 {
		d.err = fmt.Errorf("column %d: infinite timestamp", d.col-1)
		return time.Time{}
	}
	// time.Unix takes a negative remainder (before 2000) as it comes.
	return time.Unix(us/1e6+y2k, us%1e6*1e3).UTC()
}

// textArray reads a text[] column that may hold no NULL: a header (number
// of dimensions, a has-NULLs flag, the element type), a length and lower
// bound per dimension, then each element as a length and its bytes. Only
// one-dimensional arrays (or empty ones) are accepted.
func (d *rowDecoder) textArray() []string {
	b, ok := d.value(-1)
	d.notNull(b)
	if !ok {
		return nil
	}
	fail := func(why string) []string {
		d.err = fmt.Errorf("column %d: text[]: %s", d.col-1, why)
		return nil
	}
	if len(b) < 12 {
		return fail("short header")
	}
	ndim := binary.BigEndian.Uint32(b)
	if ndim == 0 {
		return []string{} // '{}': an empty array has no dimension
	}
	if ndim != 1 || len(b) < 20 {
		return fail("not one-dimensional")
	}
	n := int(int32(binary.BigEndian.Uint32(b[12:])))
	b = b[20:]
	if n < 0 || n > len(b)/4 {
		return fail("bad length")
	}
	if n == 0 {
		return []string{}
	}
	if cap(d.strs)-len(d.strs) < n {
		d.strs = make([]string, 0, max(n, 64))
	}
	out := d.strs[len(d.strs) : len(d.strs)+n : len(d.strs)+n]
	d.strs = d.strs[:len(d.strs)+n]
	for i := range out {
		if len(b) < 4 {
			return fail("truncated")
		}
		size := int(int32(binary.BigEndian.Uint32(b)))
		b = b[4:]
		if size < 0 {
			return fail("NULL element")
		}
		if size > len(b) {
			return fail("truncated")
		}
		out[i] = d.string(b[:size])
		b = b[size:]
	}
	if len(b) != 0 {
		return fail("trailing bytes")
	}
	return out
}

// money reads a numeric(10,2) amount into dst; nil for NULL.
func (d *rowDecoder) money(dst *decimal.Decimal) *decimal.Decimal {
	b, _ := d.value(-1)
	if d.err != nil {
		return nil
	}
	v, err := money(b, dst)
	if err != nil {
		d.err = fmt.Errorf("column %d: %w", d.col-1, err)
	}
	return v
}

// money decodes an amount, a numeric(10,2) column in PostgreSQL's binary
// format, into dst; nil for NULL. pgx would decode it into a big.Int that
// decimal then copies, five allocations per amount and a fifth of a gallery
// page's; an amount of at most two decimals that fits an int64 of cents is
// read here with one. Anything else goes through pgx.
func money(src []byte, dst *decimal.Decimal) (*decimal.Decimal, error) {
	if src == nil {
		return nil, nil
	}
	if cents, ok := binaryCents(src); ok {
		*dst = decimal.New(cents, -2)
		return dst, nil
	}
	var n pgtype.Numeric
	if err := pgtype.NewMap().Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, src, &n); err != nil {
		return nil, fmt.Errorf("amount: %w", err)
	}
	if n.NaN || n.InfinityModifier != pgtype.Finite {
		return nil, errors.New("amount is not a finite number")
	}
	*dst = decimal.NewFromBigInt(n.Int, n.Exp)
	return dst, nil
}

// binaryCents reads a binary numeric (ndigits, weight, sign, dscale, then
// ndigits base-10000 digits, most significant first, the first worth
// 10000^weight) as a count of cents, when it is finite, has at most two
// decimals and fits easily in an int64.
func binaryCents(src []byte) (int64, bool) {
	if len(src) < 8 {
		return 0, false
	}
	ndigits := int(int16(binary.BigEndian.Uint16(src)))
	weight := int(int16(binary.BigEndian.Uint16(src[2:])))
	sign := binary.BigEndian.Uint16(src[4:])
	if (sign != 0 && sign != 0x4000) || len(src) != 8+2*ndigits || weight > 3 {
		return 0, false // NaN, infinities, malformed, or ≥ 10^16
	}
	var cents int64
	for i := range ndigits {
		d := int64(binary.BigEndian.Uint16(src[8+2*i:]))
		switch e := weight - i; {
		case e >= 0:
			for range e {
				d *= 10000
			}
			cents += d * 100
		case e == -1 && d%100 == 0: // .dd00
			cents += d / 100
		case d != 0: // a third decimal or beyond
			return 0, false
		}
	}
	if sign == 0x4000 {
		cents = -cents
	}
	return cents, true
}
