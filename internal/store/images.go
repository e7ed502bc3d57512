package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/brickgallery/sets/models"
)

// ImagesBySet returns the images of the given sets in one statement, each
// set's in display order (position, then id). Callers pass only ids of sets
// they have already checked belong to the user.
func (s *Store) ImagesBySet(ctx context.Context, setIDs []uuid.UUID) (map[uuid.UUID][]*models.SetImage, error) {
	out := make(map[uuid.UUID][]*models.SetImage, len(setIDs))
	// Each id once: the statement looks every id of the array up.
	ids := slices.Clone(setIDs)
	slices.SortFunc(ids, compareIDs)
	sel := s.imagesOf("?::uuid[]", pgdialect.Array(slices.Compact(ids)))
	if err := s.roundTrip(ctx, statement{sql: sel.String(), scan: scanImages(out, len(ids))}); err != nil {
		return nil, fmt.Errorf("load images of %d sets: %w", len(setIDs), err)
	}
	return out, nil
}

// imagesOf selects the images of the sets whose ids the array expression
// ids gives (a Bun expression of args), for scanImages.
//
// Each set's images are looked up on their own, in index order. The plain
// form, "i.set_id = ANY(ids) ORDER BY i.set_id, i.position, i.id", was
// planned as a bitmap scan and a sort; the sort's memory, freed when the
// statement's portal was dropped, made PostgreSQL's backend give its heap
// back to the kernel (glibc's trim) and take it again on every request:
// brk calls and TLB flushes, a tenth of the database's CPU per gallery page
// under load, and more for pages of 100. This form plans as a nested loop
// of index scans with no sort, and the backend's heap stays put.
//
// Sets come in no promised order, and scanImages does not need one: it
// groups by set, and puts each set's images in display order itself.
func (s *Store) imagesOf(ids string, args ...any) *bun.SelectQuery {
	return s.db.NewSelect().
		TableExpr("unnest("+ids+") AS p(id)", args...).
		Join("CROSS JOIN LATERAL (SELECT " + imageColumns +
			" FROM set_images AS i WHERE i.set_id = p.id ORDER BY i.position, i.id) AS i").
		ColumnExpr(imageColumns)
}

// lockSet locks the user's set id for the rest of tx, so that concurrent
// image changes to one set queue up; NotFound when it is not theirs.
func lockSet(ctx context.Context, tx bun.Tx, user, id uuid.UUID) error {
	var got uuid.UUID
	err := tx.NewSelect().TableExpr("sets").Column("id").
		Where("id = ? AND user_id = ?", id, user).For("UPDATE").Scan(ctx, &got)
	if errors.Is(err, sql.ErrNoRows) {
		return models.NotFound("set")
	}
	if err != nil {
		return fmt.Errorf("lock set %s: %w", id, err)
	}
	return nil
}

// AddSetImage adds img to the user's set. Without a position (nil) it goes
// after the set's last image.
func (s *Store) AddSetImage(ctx context.Context, user uuid.UUID, img *models.SetImage, position *int32) error {
	return s.addSetImageChecked(ctx, user, img, position, 0, "")
}

// AddUploadedImage is AddSetImage for an uploaded photo: refused with
// BAD_USER_INPUT on field when the set already has max images.
func (s *Store) AddUploadedImage(ctx context.Context, user uuid.UUID, img *models.SetImage, position *int32, max int, field string) error {
	if max <= 0 {
		return errors.New("add uploaded image: no limit given")
	}
	return s.addSetImageChecked(ctx, user, img, position, max, field)
}

// ImageCount returns how many images the user's set has; NotFound when the
// set is missing or not theirs.
func (s *Store) ImageCount(ctx context.Context, user, setID uuid.UUID) (int, error) {
	var n int
	var found bool
	err := s.read(ctx, func(ctx context.Context) error {
		return s.db.NewRaw(`SELECT EXISTS (SELECT 1 FROM sets WHERE id = ? AND user_id = ?),
			(SELECT count(*) FROM set_images WHERE set_id = ?)`, setID, user, setID).Scan(ctx, &found, &n)
	})
	if err != nil {
		return 0, fmt.Errorf("count images of set %s: %w", setID, err)
	}
	if !found {
		return 0, models.NotFound("set")
	}
	return n, nil
}

// addSetImageChecked adds img; with max > 0 it first refuses, on field, a
// set that already has max images.
func (s *Store) addSetImageChecked(ctx context.Context, user uuid.UUID, img *models.SetImage, position *int32, max int, field string) error {
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := lockSet(ctx, tx, user, img.SetID); err != nil {
			return err
		}
		if max > 0 {
			n, err := tx.NewSelect().TableExpr("set_images").Where("set_id = ?", img.SetID).Count(ctx)
			if err != nil {
				return fmt.Errorf("count images of set %s: %w", img.SetID, err)
			}
			if n >= int64(max) {
				return models.Invalid(field, "the set already has %d images, the most it may have", n)
			}
		}
		if position != nil {
			img.Position = *position
		} else {
			err := tx.NewSelect().TableExpr("set_images").ColumnExpr("coalesce(max(position) + 1, 0)").
				Where("set_id = ?", img.SetID).Scan(ctx, &img.Position)
			if err != nil {
				return fmt.Errorf("find next image position: %w", err)
			}
		}
		if _, err := tx.NewInsert().Model(img).Returning("*").Exec(ctx); err != nil {
			return fmt.Errorf("insert image: %w", err)
		}
		return nil
	})
}

// SetImage returns the image id if it belongs to one of the user's sets.
func (s *Store) SetImage(ctx context.Context, user, id uuid.UUID) (*models.SetImage, error) {
	img := new(models.SetImage)
	err := s.read(ctx, func(ctx context.Context) error {
		return s.db.NewSelect().Model(img).
			Where("i.id = ?", id).
			Where("EXISTS (SELECT 1 FROM sets s WHERE s.id = i.set_id AND s.user_id = ?)", user).
			Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, models.NotFound("image")
	}
	if err != nil {
		return nil, fmt.Errorf("load image %s: %w", id, err)
	}
	return img, nil
}

// UpdateSetImage writes the given columns of img (whose ID names the image)
// if it belongs to one of the user's sets, and returns the new row.
func (s *Store) UpdateSetImage(ctx context.Context, user uuid.UUID, img *models.SetImage, columns []string) (*models.SetImage, error) {
	if len(columns) == 0 {
		return s.SetImage(ctx, user, img.ID)
	}
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context) (err error) {
		res, err = s.db.NewUpdate().Model(img).Column(columns...).
			Where("i.id = ?", img.ID).
			Where("EXISTS (SELECT 1 FROM sets s WHERE s.id = i.set_id AND s.user_id = ?)", user).
			Returning("*").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update image %s: %w", img.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, models.NotFound("image")
	}
	return img, nil
}

// DeleteSetImage deletes the image id if it belongs to one of the user's
// sets.
func (s *Store) DeleteSetImage(ctx context.Context, user, id uuid.UUID) error {
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context) (err error) {
		res, err = s.db.NewDelete().TableExpr("set_images AS i").
			Where("i.id = ?", id).
			Where("EXISTS (SELECT 1 FROM sets s WHERE s.id = i.set_id AND s.user_id = ?)", user).
			Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete image %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return models.NotFound("image")
	}
	return nil
}

// ReorderSetImages gives the user's set's images positions 0..n-1 in the
// order of ids, which must hold each of the set's image ids exactly once.
func (s *Store) ReorderSetImages(ctx context.Context, user, setID uuid.UUID, ids []uuid.UUID) ([]*models.SetImage, error) {
	var images []*models.SetImage
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := lockSet(ctx, tx, user, setID); err != nil {
			return err
		}
		var current []uuid.UUID
		if err := tx.NewSelect().TableExpr("set_images").Column("id").
			Where("set_id = ?", setID).Scan(ctx, &current); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("list images of set %s: %w", setID, err)
		}
		if err := sameIDs(current, ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			images = []*models.SetImage{}
			return nil
		}
		_, err := tx.NewRaw(`UPDATE set_images AS i SET position = n.ord - 1
			FROM unnest(?::uuid[]) WITH ORDINALITY AS n(id, ord)
			WHERE i.id = n.id AND i.set_id = ?`, pgdialect.Array(ids), setID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("reorder images of set %s: %w", setID, err)
		}
		return tx.NewSelect().Model(&images).Where("set_id = ?", setID).
			OrderExpr("position, id").Scan(ctx)
	})
	return images, err
}

// sameIDs checks that got names exactly the images in have, each once.
func sameIDs(have, got []uuid.UUID) error {
	const field = "imageIds"
	if len(got) != len(have) {
		return models.Invalid(field, "give all %d of the set's image ids, each once (got %d)", len(have), len(got))
	}
	known := make(map[uuid.UUID]bool, len(have))
	for _, id := range have {
		known[id] = false
	}
	for _, id := range got {
		seen, ok := known[id]
		switch {
		case !ok:
			return models.Invalid(field, "%s is not an image of this set", id)
		case seen:
			return models.Invalid(field, "%s appears more than once", id)
		}
		known[id] = true
	}
	return nil
}
