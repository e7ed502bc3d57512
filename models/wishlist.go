package models

import (
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
)

// Wishlist priorities (SPEC §10): 1 is the most wanted.
const (
	MinPriority     = 1
	MaxPriority     = 5
	DefaultPriority = 3
)

// WishlistItem is a row of wishlist_items: a set the user wants.
type WishlistItem struct {
	bun.BaseModel `bun:"table:wishlist_items,alias:w"`

	ID        uuid.UUID `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	UserID    uuid.UUID `bun:"user_id,notnull,type:uuid"`
	SetNumber *string   `bun:"set_number"`
	// CanonicalSetNumber is SetNumber's key (SPEC §7), derived by the
	// database on every write, as for sets.
	CanonicalSetNumber *string          `bun:"canonical_set_number"`
	Title              string           `bun:"title,notnull"`
	Theme              *string          `bun:"theme"`
	Priority           int32            `bun:"priority,type:smallint,notnull,default:3"`
	TargetPrice        *decimal.Decimal `bun:"target_price,type:numeric(10,2)"`
	Notes              *string          `bun:"notes"`
	AcquiredAt         *time.Time       `bun:"acquired_at,type:timestamp"`
	CreatedAt          time.Time        `bun:"created_at,type:timestamp,notnull,nullzero,default:now()"`
	UpdatedAt          time.Time        `bun:"updated_at,type:timestamp,notnull,nullzero,default:now()"`
	// OwnedCount is how many of the user's sets have the item's canonical
	// set number: not a column, read alongside the row by every query that
	// returns items (store.ownedCountExpr).
	OwnedCount int32 `bun:"owned_count,scanonly"`
}

// DanglingWishlistLink is a row of sets_dangling_wishlist_item_ids: a
// wishlist_item_id a set held before the foreign key existed that pointed at
// no item of its owner, kept by migration 20261205000300 so nothing is lost
// (its down migration puts them back).
type DanglingWishlistLink struct {
	bun.BaseModel `bun:"table:sets_dangling_wishlist_item_ids"`

	SetID          uuid.UUID `bun:"set_id,pk,type:uuid"`
	WishlistItemID uuid.UUID `bun:"wishlist_item_id,notnull,type:uuid"`
	MovedAt        time.Time `bun:"moved_at,type:timestamp,notnull,nullzero,default:now()"`
}
