package graph

import (
	"net/http"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// getQueries is gqlgen's GET transport, except for two statuses:
//   - a mutation sent over GET is answered 405 Method Not Allowed with
//     "Allow: POST", as GraphQL over HTTP requires, where gqlgen answers
//     406. Either way nothing is executed;
//   - a query that met an unreachable database is answered 503, as over
//     POST, where gqlgen answers 200.
type getQueries struct{ transport.GET }

var _ graphql.Transport = getQueries{}

func (g getQueries) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	r, unavailable := withUnavailableFlag(r)
	g.GET.Do(&getResponse{ResponseWriter: w, unavailable: unavailable}, r, tokenLimitedExecutor{exec})
}

// getResponse adjusts the status the GET transport sends, explicitly or
// with its first write.
type getResponse struct {
	http.ResponseWriter
	unavailable *atomic.Bool
	wroteHeader bool
}

func (w *getResponse) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		switch {
		case code == http.StatusNotAcceptable: // sent only to refuse a non-query
			w.Header().Set("Allow", http.MethodPost)
			code = http.StatusMethodNotAllowed
		case code == http.StatusOK && w.unavailable.Load():
			code = UnavailableStatus(w.Header())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *getResponse) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
