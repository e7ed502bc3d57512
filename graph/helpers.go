package graph

import (
	"bytes"
	"cmp"
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/graph/loader"
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
