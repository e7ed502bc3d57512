// Package models holds the Bun models of the tables, the coded error type
// the rest of the application speaks, and the input validation that runs
// before every write.
package models

import (
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
)

// User is a collector. The auth service owns users in production; a user
// first seen through a token is created with no email.
type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID          uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Email       *string   `bun:"email"`
	DisplayName *string   `bun:"display_name"`
	CreatedAt   time.Time `bun:"created_at,type:timestamp,notnull,nullzero,default:now()"`
	UpdatedAt   time.Time `bun:"updated_at,type:timestamp,notnull,nullzero,default:now()"`
}

// Set is one entry of a collection: a LEGO set a user owns, possibly several
// copies of it (Quantity). Money fields are what was paid for the entry as a
// whole, exact to the cent; nil means unknown.
type Set struct {
	bun.BaseModel `bun:"table:sets,alias:s"`

	ID        uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	UserID    uuid.UUID `bun:"user_id,notnull,type:uuid"`
	Title     string    `bun:"title,notnull"`
	SetNumber *string   `bun:"set_number"`
	// CanonicalSetNumber is SetNumber's key (SPEC §7), which the database
	// derives on every write: whatever a writer sends for it is replaced.
	CanonicalSetNumber *string          `bun:"canonical_set_number"`
	Store              *string          `bun:"store"`
	SourceURL          *string          `bun:"source_url"`
	PieceCount         *int32           `bun:"piece_count"`
	ReleaseDate        *time.Time       `bun:"release_date,type:timestamp"`
	Theme              *string          `bun:"theme"`
	Tags               []string         `bun:"tags,array,notnull,default:'{}'"`
	Notes              *string          `bun:"notes"`
	IsBuilt            bool             `bun:"is_built,notnull"`
	Quantity           int32            `bun:"quantity,notnull"`
	PurchasePrice      *decimal.Decimal `bun:"purchase_price,type:numeric(10,2)"`
	Tax                *decimal.Decimal `bun:"tax,type:numeric(10,2)"`
	Shipping           *decimal.Decimal `bun:"shipping,type:numeric(10,2)"`
	PurchaseDate       *time.Time       `bun:"purchase_date,type:timestamp"`
	WishlistItemID     *uuid.UUID       `bun:"wishlist_item_id,type:uuid"`
	CreatedAt          time.Time        `bun:"created_at,type:timestamp,notnull,nullzero,default:now()"`
	UpdatedAt          time.Time        `bun:"updated_at,type:timestamp,notnull,nullzero,default:now()"`
}

// TotalCost is PurchasePrice + Tax + Shipping, missing parts counting as
// zero; nil when all three are missing.
func (s *Set) TotalCost() *decimal.Decimal {
	if s.PurchasePrice == nil && s.Tax == nil && s.Shipping == nil {
		return nil
	}
	total := decimal.Zero
	for _, d := range []*decimal.Decimal{s.PurchasePrice, s.Tax, s.Shipping} {
		if d != nil {
			total = total.Add(*d)
		}
	}
	return &total
}

// SetImage is a photo of a set. Images are shown in Position order.
type SetImage struct {
	bun.BaseModel `bun:"table:set_images,alias:i"`

	ID           uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	SetID        uuid.UUID `bun:"set_id,notnull,type:uuid"`
	ImageURL     string    `bun:"image_url,notnull"`
	ThumbnailURL *string   `bun:"thumbnail_url"`
	Position     int32     `bun:"position,notnull"`
	CreatedAt    time.Time `bun:"created_at,type:timestamp,notnull,nullzero,default:now()"`
	// MediaKey and ThumbnailKey are the media store's keys of an uploaded
	// photo's display image and thumbnail; nil for an image by URL.
	MediaKey     *string `bun:"media_key"`
	ThumbnailKey *string `bun:"thumbnail_key"`
	// Width, Height, ContentType and ByteSize describe an uploaded photo's
	// display image; nil for an image by URL.
	Width       *int32  `bun:"width"`
	Height      *int32  `bun:"height"`
	ContentType *string `bun:"content_type"`
	ByteSize    *int32  `bun:"byte_size"`
}

// Uploaded reports whether the server stores the image's files.
func (i *SetImage) Uploaded() bool { return i.MediaKey != nil }

// UserThemeTotal is one theme of one user's collection: how many sets carry
// it and their pieces (pieceCount × quantity, a missing count as 0). Triggers
// on sets keep it exact, whoever writes the sets, so that `themes` reads one
// row a theme instead of aggregating the whole collection; the application
// only reads it. A theme with no set left has no row.
type UserThemeTotal struct {
	bun.BaseModel `bun:"table:user_theme_totals,alias:utt"`

	UserID     uuid.UUID `bun:"user_id,pk,type:uuid"`
	Theme      string    `bun:"theme,pk"`
	SetCount   int64     `bun:"set_count,notnull"`
	PieceTotal int64     `bun:"piece_total,notnull"`
}

// MediaDeletion is a stored file whose image row is gone, queued by a
// trigger on set_images in the deleting transaction, until the media
// janitor has removed it from the store (SPEC §8).
type MediaDeletion struct {
	bun.BaseModel `bun:"table:media_deletions"`

	Key           string    `bun:"key,pk"`
	QueuedAt      time.Time `bun:"queued_at,type:timestamp,notnull,nullzero,default:now()"`
	Attempts      int32     `bun:"attempts,notnull,default:0"`
	NextAttemptAt time.Time `bun:"next_attempt_at,type:timestamp,notnull,nullzero,default:now()"`
	LastError     *string   `bun:"last_error"`
}

// Change is one entry of a user's change log (SPEC §11), written by
// triggers in the changing transaction; its positions count up from 1 per
// user, in commit order.
type Change struct {
	bun.BaseModel `bun:"table:changes"`

	UserID   uuid.UUID `bun:"user_id,pk,type:uuid"`
	Position int64     `bun:"position,pk"`
	// Kind is SET_CHANGED, SET_DELETED, WISHLIST_ITEM_CHANGED,
	// WISHLIST_ITEM_DELETED or RESYNC.
	Kind     string    `bun:"kind,notnull"`
	EntityID uuid.UUID `bun:"entity_id,notnull,type:uuid"`
	At       time.Time `bun:"at,type:timestamp,notnull,nullzero,default:now()"`
}

// ChangeHead is a user's last position in the change log; its row lock
// orders the user's changes.
type ChangeHead struct {
	bun.BaseModel `bun:"table:change_heads"`

	UserID   uuid.UUID `bun:"user_id,pk,type:uuid"`
	Position int64     `bun:"position,notnull"`
}
