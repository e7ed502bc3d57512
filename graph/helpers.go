package graph

import (
	"bytes"
	"cmp"
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/graph/loader"
	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/models"
)

// userID returns the caller. The HTTP layer refuses requests without a
// valid token before gqlgen runs, so a miss here is a wiring bug, reported
// as UNAUTHENTICATED rather than served unscoped.
func userID(ctx context.Context) (uuid.UUID, error) {
	id, ok := auth.UserFromContext(ctx)
	if !ok {
		return uuid.Nil, models.Unauthenticated("a bearer token is required")
	}
	return id, nil
}

// requested reports whether the current field's selection includes the
// nested field path (such as "nodes", "images"), through fragments too.
func requested(ctx context.Context, path ...string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return false
	}
	oc := graphql.GetOperationContext(ctx)
	fields := graphql.CollectFields(oc, fc.Field.Selections, nil)
	for i, name := range path {
		var next *graphql.CollectedField
		for j := range fields {
			if fields[j].Name == name {
				next = &fields[j]
				break
			}
		}
		if next == nil {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		fields = graphql.CollectFields(oc, next.Selections, nil)
	}
	return false
}

// prefetchImages queues the images of sets into one dataloader batch.
func prefetchImages(ctx context.Context, sets []*models.Set) {
	if len(sets) == 0 {
		return
	}
	ids := make([]uuid.UUID, len(sets))
	for i, s := range sets {
		ids[i] = s.ID
	}
	loader.PrefetchImages(ctx, ids)
}

// sortImages puts images in display order (position, then id), as the
// store returns them.
func sortImages(images []*models.SetImage) {
	slices.SortStableFunc(images, func(a, b *models.SetImage) int {
		if c := cmp.Compare(a.Position, b.Position); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
}

// setByID is one of my sets, or null when it does not exist or is not mine:
// Query.set and CollectionChange.set.
func (r *Resolver) setByID(ctx context.Context, id uuid.UUID) (*model.Set, error) {
	user, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	var set *models.Set
	if requested(ctx, "images") {
		var images []*models.SetImage
		set, images, err = r.Store.SetWithImages(ctx, user, id)
		if err == nil {
			loader.PrimeImages(ctx, set.ID, images)
		}
	} else {
		set, err = r.Store.Set(ctx, user, id)
	}
	if models.ErrorCode(err) == models.CodeNotFound {
		return nil, nil // SPEC: null when missing or not mine
	}
	return model.NewSet(set), err
}

// wishlistItemByID is one of my wishlist items, or null as for setByID:
// Query.wishlistItem and CollectionChange.wishlistItem.
func (r *Resolver) wishlistItemByID(ctx context.Context, id uuid.UUID) (*models.WishlistItem, error) {
	user, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	item, err := r.Store.WishlistItem(ctx, user, id)
	if models.ErrorCode(err) == models.CodeNotFound {
		return nil, nil
	}
	return item, err
}
