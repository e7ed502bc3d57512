package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/importer"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// Limits of importSets over GraphQL (SPEC §9); `sets db import` has none.
const (
	MaxImportBytes = 10 << 20
	MaxImportRows  = 50_000
)

// MaxImportErrors is how many errors a report lists (SPEC §9): the file
// is not imported at the first, and a hundred say enough about what to
// fix; reading stops there.
const MaxImportErrors = 100

// ImportOptions say what Import does with a file.
type ImportOptions struct {
	Format model.ImportFormat
	Mode   model.ImportMode
	Target model.ImportTarget
	DryRun bool
	// MaxRows, when positive, refuses a file with more rows.
	MaxRows int
}

// Import reads file and adds its rows to user's collection or wishlist, all
// or nothing, as importSets does (and `sets db import`). Every row goes
// through the validation of createSet (or addWishlistItem), so a row is
// accepted exactly when the API would accept it. A file that is none of
// the formats is BAD_USER_INPUT on file.
func Import(ctx context.Context, st *store.Store, user uuid.UUID, file io.Reader, opts ImportOptions) (*model.ImportReport, error) {
	rd, err := importer.NewReader(file, importer.Format(opts.Format))
	if err != nil {
		return nil, fileError(err)
	}
	report := &model.ImportReport{Format: model.ImportFormat(rd.Format()), DryRun: opts.DryRun,
		SkippedLines: []int32{}, Errors: []*model.ImportError{}}
	// Brickset says which rows are wanted: those, and only those, are
	// read into the wishlist.
	wantedOnly := opts.Target == model.ImportTargetWishlist && rd.Format() == importer.Brickset
	var skipped []int
	addError := func(line int, column, msg string) {
		e := &model.ImportError{Line: int32(line), Message: msg}
		if column != "" {
			e.Column = &column
		}
		report.Errors = append(report.Errors, e)
	}
	next := func() (*store.ImportRow, error) {
		for len(report.Errors) < MaxImportErrors {
			row, err := rd.Next()
			var re *importer.RowError
			switch {
			case errors.Is(err, io.EOF):
				return nil, io.EOF
			case errors.As(err, &re):
				report.RowsRead++
				addError(re.Line, re.Column, re.Message)
				continue
			case err != nil:
				return nil, fileError(err)
			}
			report.RowsRead++
			if opts.MaxRows > 0 && int(report.RowsRead) > opts.MaxRows {
				return nil, models.Invalid("file", "the file has more than %d rows: import it with `sets db import`, or in parts", opts.MaxRows)
			}
			if row.NotASet || (wantedOnly && !row.Wanted) {
				skipped = append(skipped, row.Line)
				continue
			}
			out, err := validateRow(user, row, opts.Target == model.ImportTargetWishlist || row.Wanted)
			var me *models.Error
			if errors.As(err, &me) {
				addError(row.Line, row.Column(me.Field), me.Message)
				continue
			}
			if err != nil {
				return nil, err
			}
			return out, nil
		}
		return nil, io.EOF
	}
	res, err := st.Import(ctx, user, store.ImportOptions{SkipExisting: opts.Mode == model.ImportModeSkipExisting, DryRun: opts.DryRun},
		next, func() bool { return len(report.Errors) == 0 })
	if err != nil {
		return nil, err
	}
	if len(report.Errors) > 0 {
		return report, nil
	}
	report.Created = int32(res.Created)
	skipped = append(skipped, res.SkippedLines...)
	slices.Sort(skipped)
	for _, l := range skipped {
		report.SkippedLines = append(report.SkippedLines, int32(l))
	}
	report.Skipped = int32(len(skipped))
	return report, nil
}

// validateRow runs a row through createSet's validation, or
// addWishlistItem's when it goes to the wishlist.
func validateRow(user uuid.UUID, row *importer.Row, wish bool) (*store.ImportRow, error) {
	if wish {
		in := &model.WishlistItemInput{Title: row.Set.Title, SetNumber: row.Set.SetNumber,
			Theme: row.Set.Theme, Notes: row.Set.Notes}
		item, err := newWishlistItem(user, in)
		if err != nil {
			return nil, err
		}
		return &store.ImportRow{Line: row.Line, Item: item}, nil
	}
	set, images, err := newSet(user, &row.Set)
	if err != nil {
		return nil, err
	}
	set.ID, set.CreatedAt, set.UpdatedAt, set.WishlistItemID = row.ID, row.CreatedAt, row.UpdatedAt, row.WishlistItemID
	return &store.ImportRow{Line: row.Line, Set: set, Images: images, KeepID: row.ID != uuid.Nil}, nil
}

// fileError is BAD_USER_INPUT on file for a file the importer refused.
func fileError(err error) error {
	var fe *importer.FileError
	if errors.As(err, &fe) {
		return models.Invalid("file", "%s", fe.Message)
	}
	var me *models.Error
	if errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("read import file: %w", err)
}

// tooLarge refuses, on field file, an upload over max bytes; what names
// what may be at most that ("a photo"). gqlgen sets Size from the bytes
// it received, not from what the client declared.
func tooLarge(file *graphql.Upload, max int64, what string) error {
	if file.Size > max {
		return models.Invalid("file", "the file is %.1f MiB; %s may be at most %d MiB", float64(file.Size)/(1<<20), what, max>>20)
	}
	return nil
}
