package main

import "net/http"

// graphiqlHandler returns the GraphiQL IDE handler (internal/graphiql).
func graphiqlHandler() http.Handler {
	return nil
}
