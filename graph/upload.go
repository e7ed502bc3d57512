package graph

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/models"
)

// uploadSetImage stores a photo of one of the user's sets: checked and
// processed first, its files written next, its row last (SPEC §8: files
// before rows), and the files removed again when the row is not written.
func (r *Resolver) uploadSetImage(ctx context.Context, setID uuid.UUID, file graphql.Upload, position *int32) (*models.SetImage, error) {
	user, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	m := r.Media
	if m == nil {
		return nil, errors.New("upload: no media store configured")
	}
	if position != nil {
		if err := models.IntRange("position", *position, 0, models.MaxPosition); err != nil {
			return nil, err
		}
	}
	if err := tooLarge(&file, m.MaxBytes, "a photo"); err != nil {
		return nil, err
	}
	// The set's owner and room first: nothing is decoded for a set that
	// is not mine, or full.
	n, err := r.Store.ImageCount(ctx, user, setID)
	if err != nil {
		return nil, err
	}
	if n >= models.MaxImages {
		return nil, models.Invalid("file", "the set already has %d images, the most it may have", n)
	}
	data, err := io.ReadAll(file.File) // at most Size bytes, checked above
	if err != nil {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	res, err := m.Processor.Process(ctx, data)
	var rejected *media.Rejected
	if errors.As(err, &rejected) {
		return nil, models.Invalid("file", "%s", rejected.Message)
	}
	if err != nil {
		return nil, fmt.Errorf("process upload: %w", err)
	}
	displayKey, thumbKey := media.NewKey(res.Display.ContentType), media.NewKey(res.Thumbnail.ContentType)
	written := []string{}
	// Whatever fails from here leaves no file behind; a crash leaves files
	// without a row, for `sets db media-gc`.
	cleanup := func() {
		for _, k := range written {
			if err := m.Store.Delete(context.WithoutCancel(ctx), k); err != nil {
				r.Log.WarnContext(ctx, "remove the files of a failed upload", "key", k, "err", err)
			}
		}
	}
	for _, f := range []struct {
		key string
		img media.Image
	}{{displayKey, res.Display}, {thumbKey, res.Thumbnail}} {
		if err := m.Store.Put(ctx, f.key, f.img.Data); err != nil {
			cleanup()
			return nil, fmt.Errorf("store upload: %w", err)
		}
		written = append(written, f.key)
		media.CrashPoint("upload:after-file-" + itoa(len(written)))
	}
	d := res.Display
	thumbURL := m.URL(thumbKey)
	img := &models.SetImage{SetID: setID, ImageURL: m.URL(displayKey), ThumbnailURL: &thumbURL,
		MediaKey: &displayKey, ThumbnailKey: &thumbKey, Width: int32p(d.Width), Height: int32p(d.Height),
		ContentType: &d.ContentType, ByteSize: int32p(len(d.Data))}
	if err := r.Store.AddUploadedImage(ctx, user, img, position, models.MaxImages, "file"); err != nil {
		cleanup()
		return nil, err
	}
	media.CrashPoint("upload:after-row")
	return img, nil
}

func int32p(n int) *int32 {
	v := int32(n)
	return &v
}
