package main

import (
	"net/http"

	"github.com/brickgallery/sets/internal/graphiql"
)

// graphiqlHandler returns the GraphiQL IDE, served from the binary, for
// the GraphQL endpoint.
func graphiqlHandler() http.Handler {
	return graphiql.Handler("/graphql")
}
