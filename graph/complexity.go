package graph

import (
	"context"
	"encoding/json"
	"fmt"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/models"
)

// Costs of list fields whose length the query does not state. A set has a
// handful of photos (0–6 in real collections): ten is a generous estimate.
const (
	imagesPerSet    = 10
	duplicatesCount = 10
)

// complexity makes list fields cost in proportion to their length, so
// first/last multiply what is selected under them. With every field of 100
// sets and their images a query costs about 8,300 (17,000 asking for both
// edges and nodes); the default limit (config) lets that through and
// refuses ten times as much.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Sets = func(child int, _ *model.SetFilter, _ []*model.SetOrder, first *int32, _ *string, last *int32, _ *string) int {
		n := int32(defaultPageSize)
		switch {
		case first != nil:
			n = *first
		case last != nil:
			n = *last
		}
		// An out-of-range count is refused by the resolver before any SQL;
		// cost it at the maximum so it cannot buy a cheap pass here either.
		if n < 0 || n > maxPageSize {
			n = maxPageSize
		}
		return 1 + int(max(n, 1))*child
	}
	c.Set.Images = func(child int) int { return 1 + imagesPerSet*child }
	c.CreateSetPayload.Duplicates = func(child int) int { return 1 + duplicatesCount*child }
	c.Mutation.ReorderSetImages = func(child int, _ uuid.UUID, _ []uuid.UUID) int { return 1 + imagesPerSet*child }
	return c
}

// complexityLimit refuses operations that cost more than max (see
// complexity), before any resolver runs. It is gqlgen's FixedComplexityLimit
// with a memory: the cost is a function of the document, the operation and
// the variables alone, and walking the document again on every request was
// 3 % of the server's CPU on a gallery page (pprof under wrk), while the
// same few queries arrive over and over with the same variables.
type complexityLimit struct {
	max   int
	es    graphql.ExecutableSchema
	costs *lru.LRU[int]
}

// maxCostKey bounds what the cost cache keeps per entry: a query and its
// variables longer than this (no real client sends one) are costed afresh
// each time, so the cache holds at most costCacheSize × maxCostKey bytes.
const (
	maxCostKey    = 8 << 10
	costCacheSize = 1000
)

func newComplexityLimit(max int) *complexityLimit {
	return &complexityLimit{max: max, costs: lru.New[int](costCacheSize)}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &complexityLimit{}

func (*complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c *complexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

func (c *complexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	key := costKey(oc)
	cost, ok := c.costs.Get(ctx, key)
	if !ok {
		cost = gqlcomplexity.Calculate(ctx, c.es, oc.Operation, oc.Variables)
		if key != "" {
			c.costs.Add(ctx, key, cost)
		}
	}
	if cost > c.max {
		msg := fmt.Sprintf("operation has complexity %d, which exceeds the limit of %d", cost, c.max)
		return &gqlerror.Error{Message: msg, Err: &models.Error{Code: models.CodeTooComplex, Message: msg}}
	}
	return nil
}

// costKey identifies what an operation's cost depends on: the query text,
// the operation chosen in it and the variables' values (json.Marshal writes
// map keys sorted, so equal values give equal keys). It is "" for what the
// cache does not keep.
func costKey(oc *graphql.OperationContext) string {
	if len(oc.RawQuery) > maxCostKey {
		return ""
	}
	vars, err := json.Marshal(oc.Variables)
	if err != nil {
		return ""
	}
	key := oc.RawQuery + "\x00" + oc.Operation.Name + "\x00" + string(vars)
	if len(key) > maxCostKey {
		return ""
	}
	return key
}

// depthLimit refuses operations nested deeper than max fields, before any
// resolver runs. Introspection counts like any other query: its recursive
// types (__Type.fields.type...) are the one place our schema can nest
// without end.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, map[string]bool{}); depth > d.max {
		msg := fmt.Sprintf("query is nested %d levels deep; the limit is %d", depth, d.max)
		// The error presenter shows only coded errors: a bare gqlerror,
		// even one with a code in its extensions, is masked as internal.
		return &gqlerror.Error{Message: msg, Err: &models.Error{Code: models.CodeTooComplex, Message: msg}}
	}
	return nil
}

// selectionDepth is the deepest chain of fields in set. Fragments add no
// level of their own; visiting guards against (invalid) fragment cycles.
func selectionDepth(set ast.SelectionSet, visiting map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = 1 + selectionDepth(s.SelectionSet, visiting)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, visiting)
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue
			}
			visiting[s.Name] = true
			d = selectionDepth(s.Definition.SelectionSet, visiting)
			delete(visiting, s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}
