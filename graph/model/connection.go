// Package model holds the GraphQL-only types: Set and SetConnection, which
// write their own JSON, and the inputs and payloads gqlgen generates.
package model

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// SetConnection is one page of sets. Like Set, it writes its own JSON,
// edges, nodes and pageInfo included: gqlgen marshals each element of a
// list in a goroutine of its own, with a field context each, which was a
// tenth of the server's CPU on a gallery page (pprof under wrk). It honours
// the selection set as Set does (aliases, fragments, @skip/@include,
// __typename). Everything it writes is read before it is written: the page,
// its images and its total in one round trip, and the pageInfo flags that
// need a lookup, when selected, by the sets resolver; so writing cannot
// fail but for a resolver that did not read what the selection needs.
// TestConnectionWritesEverySchemaField (internal/server) fails when a field
// of SetConnection, SetEdge or PageInfo is missing here.
type SetConnection struct {
	Page  *store.SetPage
	Query *store.SetQuery
	// HasNextPage and HasPreviousPage hold pageInfo's flags; the resolver
	// sets them when they are selected.
	HasNextPage, HasPreviousPage bool
	// WishlistItems holds the wishlist items of the page's sets, by id; the
	// resolver reads them (one statement) when wishlistItem is selected.
	WishlistItems map[uuid.UUID]*models.WishlistItem
}

// TotalCount is how many sets match the page's filter in all.
func (c *SetConnection) TotalCount() (int32, error) {
	if c.Page.Total == nil {
		return 0, errors.New("totalCount was not read with its page")
	}
	return *c.Page.Total, nil
}

// PageInfo, Nodes and Edges answer their fields for gqlgen's generated
// executor, which needs a source for every field of a bound type; it goes
// unused, as the connection writes itself, computing cursors only where
// they are selected.

// PageInfo describes where the page sits.
func (c *SetConnection) PageInfo() *PageInfo {
	return &PageInfo{HasNextPage: c.HasNextPage, HasPreviousPage: c.HasPreviousPage,
		StartCursor: c.cursorAt(0), EndCursor: c.cursorAt(len(c.Page.Sets) - 1)}
}

// cursorAt returns the cursor of the page's i-th set, nil when there is
// none (an empty page).
func (c *SetConnection) cursorAt(i int) *string {
	if i < 0 || i >= len(c.Page.Sets) {
		return nil
	}
	cursor := store.CursorFor(c.Query.Order, c.Page.Sets[i])
	return &cursor
}

// Nodes returns the page's sets.
func (c *SetConnection) Nodes() []*Set { return NewSets(c.Page.Sets) }

// Edges returns the page's sets with their cursors.
func (c *SetConnection) Edges() []*SetEdge {
	edges := make([]*SetEdge, len(c.Page.Sets))
	for i, s := range NewSets(c.Page.Sets) {
		edges[i] = &SetEdge{Cursor: store.CursorFor(c.Query.Order, s.Set), Node: s}
	}
	return edges
}

// UnmarshalGQLContext exists because gqlgen binds marshalling types in
// pairs; SetConnection is an output type and never arrives as input.
func (*SetConnection) UnmarshalGQLContext(context.Context, any) error {
	return errors.New("SetConnection is an output type")
}

// MarshalGQLContext writes the connection's selected fields, in one write.
func (c *SetConnection) MarshalGQLContext(ctx context.Context, w io.Writer) error {
	var sel ast.SelectionSet
	if at := fieldOf(ctx); at != nil {
		sel = at.Selections
	}
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 { // a page of 100 sets with all their photos fits
			bufPool.Put(bp)
		}
	}()
	b, err := c.append((*bp)[:0], graphql.GetOperationContext(ctx), sel)
	*bp = b
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (c *SetConnection) append(b []byte, oc *graphql.OperationContext, sel ast.SelectionSet) ([]byte, error) {
	var err error
	b = append(b, '{')
	for i, f := range graphql.CollectFields(oc, sel, []string{"SetConnection"}) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, f.Alias)
		switch f.Name {
		case "__typename":
			b = append(b, `"SetConnection"`...)
		case "totalCount":
			n, err := c.TotalCount()
			if err != nil {
				return b, err
			}
			b = strconv.AppendInt(b, int64(n), 10)
		case "nodes":
			plan := newFieldPlan(oc, f.Selections)
			b = append(b, '[')
			for j, s := range c.Page.Sets {
				if j > 0 {
					b = append(b, ',')
				}
				if b, err = c.appendSet(b, s, plan); err != nil {
					return b, err
				}
			}
			b = append(b, ']')
		case "edges":
			if b, err = c.appendEdges(b, oc, f.Selections); err != nil {
				return b, err
			}
		case "pageInfo":
			b = c.appendPageInfo(b, oc, f.Selections)
		default: // validation admits only the schema's fields
			b = append(b, "null"...)
		}
	}
	return append(b, '}'), nil
}

// appendSet writes s under plan, with its images and wishlist item from
// the page.
func (c *SetConnection) appendSet(b []byte, s *models.Set, plan *fieldPlan) ([]byte, error) {
	var images []*models.SetImage
	if plan.hasImages {
		if c.Page.Images == nil {
			return b, errors.New("images were not read with their page")
		}
		images = c.Page.Images[s.ID]
	}
	var item *models.WishlistItem
	if plan.hasWishlist && s.WishlistItemID != nil {
		if c.WishlistItems == nil {
			return b, errors.New("wishlist items were not read with their page")
		}
		item = c.WishlistItems[*s.WishlistItemID]
	}
	return appendSet(b, s, plan, images, item), nil
}

func (c *SetConnection) appendEdges(b []byte, oc *graphql.OperationContext, sel ast.SelectionSet) ([]byte, error) {
	fields := graphql.CollectFields(oc, sel, []string{"SetEdge"})
	plans := make([]*fieldPlan, len(fields)) // of each node field
	for i, f := range fields {
		if f.Name == "node" {
			plans[i] = newFieldPlan(oc, f.Selections)
		}
	}
	var err error
	b = append(b, '[')
	for j, s := range c.Page.Sets {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		cursor := ""
		for i, f := range fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendKey(b, f.Alias)
			switch f.Name {
			case "__typename":
				b = append(b, `"SetEdge"`...)
			case "cursor":
				if cursor == "" {
					cursor = store.CursorFor(c.Query.Order, s)
				}
				b = appendString(b, cursor)
			case "node":
				if b, err = c.appendSet(b, s, plans[i]); err != nil {
					return b, err
				}
			default:
				b = append(b, "null"...)
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendPageInfo writes pageInfo, computing a cursor only when it is
// selected (the gallery's usual pageInfo is hasNextPage and endCursor).
func (c *SetConnection) appendPageInfo(b []byte, oc *graphql.OperationContext, sel ast.SelectionSet) []byte {
	b = append(b, '{')
	for i, f := range graphql.CollectFields(oc, sel, []string{"PageInfo"}) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, f.Alias)
		switch f.Name {
		case "__typename":
			b = append(b, `"PageInfo"`...)
		case "hasNextPage":
			b = strconv.AppendBool(b, c.HasNextPage)
		case "hasPreviousPage":
			b = strconv.AppendBool(b, c.HasPreviousPage)
		case "startCursor":
			b = appendOptString(b, c.cursorAt(0))
		case "endCursor":
			b = appendOptString(b, c.cursorAt(len(c.Page.Sets)-1))
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}
