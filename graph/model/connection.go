// Package model holds the GraphQL-only types: the Relay connection types
// bound in gqlgen.yml, and the inputs and payloads gqlgen generates.
package model

import (
	"github.com/brickgallery/sets/internal/store"
)

// SetConnection is one page of sets. TotalCount is resolved lazily from
// Query, so a page that does not ask for it costs no count.
type SetConnection struct {
	Edges    []*SetEdge
	Nodes    []*Set
	PageInfo *PageInfo
	// Query is what produced the page, kept for totalCount and pageInfo.
	Query *store.SetQuery
}

// SetEdge is a set and its cursor.
type SetEdge struct {
	Cursor string
	Node   *Set
}

// PageInfo describes where a page sits. The flag for the direction of travel
// comes from fetching one row more than asked; the other is looked up only
// when asked for.
type PageInfo struct {
	StartCursor *string
	EndCursor   *string
	Page        *store.SetPage
	Query       *store.SetQuery
}
