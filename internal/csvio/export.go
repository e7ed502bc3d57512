package csvio

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/store"
)

// Format is a kind of file the export writes.
type Format string

// The export formats.
const (
	// FormatSets is our own CSV (SETS_CSV): every field, lossless.
	FormatSets Format = "sets"
	// FormatRebrickable is what Rebrickable's set list import takes: a
	// row per set with a set number.
	FormatRebrickable Format = "rebrickable"
)

// ParseFormat returns the format named s; "" is FormatSets.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return FormatSets, nil
	case FormatSets, FormatRebrickable:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: use %s or %s", s, FormatSets, FormatRebrickable)
}

// Images reports whether files of f carry images, so that a caller reads
// them only when needed.
func (f Format) Images() bool { return f == FormatSets }

// rebrickableHeader is the header Rebrickable's set list import expects.
var rebrickableHeader = []string{"Set Number", "Quantity", "Includes Spares", "Inventory ver"}

// Batch is a run of sets in export order and their images by set id.
type Batch = store.ExportBatch

// Source hands the sets to export to fn, batch by batch, stopping at the
// first error fn returns.
type Source func(ctx context.Context, fn func(Batch) error) error

// FromStore is the Source of the user's sets in st (of exactly theme, when
// theme is not nil) that a file of format f holds: the HTTP export and the
// command line both read through it, so that they write the same bytes.
func FromStore(st *store.Store, user uuid.UUID, theme *string, f Format) Source {
	return func(ctx context.Context, fn func(Batch) error) error {
		return st.ExportSets(ctx, user, store.ExportOptions{Theme: theme, Images: f.Images()}, fn)
	}
}

// Export writes the sets of src to w as a file of format f: the header,
// then each batch, flushed to w when it is written so that memory holds
// one batch at most, whatever the size of the collection. It stops when
// ctx is done (the client went away).
func Export(ctx context.Context, w io.Writer, f Format, src Source) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	header := Columns
	if f == FormatRebrickable {
		header = rebrickableHeader
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	rec := make([]string, len(rebrickableHeader))
	err := src(ctx, func(b Batch) error {
		for _, s := range b.Sets {
			switch {
			case f == FormatSets:
				rec = Encode(s, b.Images[s.ID])
			case s.SetNumber == nil:
				continue // Rebrickable has no use for a set without a number
			default:
				rec = append(rec[:0], Defuse(*s.SetNumber), strconv.Itoa(int(s.Quantity)), "True", "1")
			}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write set %s: %w", s.ID, err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("write %d sets: %w", len(b.Sets), err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("send %d sets: %w", len(b.Sets), err)
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("send the end of the file: %w", err)
	}
	return nil
}
