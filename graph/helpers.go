package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

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
