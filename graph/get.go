package graph

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// getQueries is gqlgen's GET transport, except that a mutation sent over GET
// is answered 405 Method Not Allowed with "Allow: POST", as GraphQL over
// HTTP requires, where gqlgen answers 406. Either way nothing is executed.
type getQueries struct{ transport.GET }

var _ graphql.Transport = getQueries{}

func (g getQueries) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	g.GET.Do(mutationRefusal{w}, r, exec)
}

// mutationRefusal turns the GET transport's 406, which it sends only to
// refuse an operation that is not a query, into 405.
type mutationRefusal struct{ http.ResponseWriter }

func (w mutationRefusal) WriteHeader(code int) {
	if code == http.StatusNotAcceptable {
		w.Header().Set("Allow", http.MethodPost)
		code = http.StatusMethodNotAllowed
	}
	w.ResponseWriter.WriteHeader(code)
}
