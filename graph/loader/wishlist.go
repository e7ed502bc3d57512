package loader

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// wishlistItems loads Set.wishlistItem: a list of sets prefetches the items
// its sets point at in one statement (PrefetchWishlistItems), and a set on
// its own loads its item alone. Items are read scoped to the caller; the
// database's foreign key already keeps a set from pointing at another
// user's item.
type wishlistItems struct {
	store *store.Store
	mu    sync.Mutex
	items map[uuid.UUID]func() (*models.WishlistItem, error)
}

func newWishlistItems(s *store.Store) *wishlistItems {
	return &wishlistItems{store: s, items: map[uuid.UUID]func() (*models.WishlistItem, error){}}
}

// fetch starts loading ids (but those already queued) in one statement and
// queues their results; it does not wait for the statement.
func (w *wishlistItems) fetch(ctx context.Context, ids []uuid.UUID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	todo := make([]uuid.UUID, 0, len(ids))
	seen := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		if _, ok := w.items[id]; !ok && !seen[id] {
			seen[id] = true
			todo = append(todo, id)
		}
	}
	if len(todo) == 0 {
		return
	}
	done := make(chan struct{})
	var (
		found map[uuid.UUID]*models.WishlistItem
		err   error
	)
	go func() {
		defer close(done)
		user, ok := auth.UserFromContext(ctx)
		if !ok {
			err = fmt.Errorf("load wishlist items: no user in the request")
			return
		}
		found, err = w.store.WishlistItemsByID(ctx, user, todo)
	}()
	for _, id := range todo {
		w.items[id] = func() (*models.WishlistItem, error) {
			<-done
			return found[id], err
		}
	}
}

// PrefetchWishlistItems starts loading the wishlist items of sets in one
// statement, so that a list of sets costs one statement for all of their
// items however they are written out.
func PrefetchWishlistItems(ctx context.Context, sets []*models.Set) {
	ids := make([]uuid.UUID, 0, len(sets))
	for _, s := range sets {
		if s.WishlistItemID != nil {
			ids = append(ids, *s.WishlistItemID)
		}
	}
	if len(ids) > 0 {
		from(ctx).wishlist.fetch(ctx, ids)
	}
}

// WishlistItem returns the set's wishlist item, or nil when it has none.
func WishlistItem(ctx context.Context, set *models.Set) (*models.WishlistItem, error) {
	if set.WishlistItemID == nil {
		return nil, nil
	}
	w := from(ctx).wishlist
	id := *set.WishlistItemID
	w.fetch(ctx, []uuid.UUID{id})
	w.mu.Lock()
	get := w.items[id]
	w.mu.Unlock()
	return get()
}
