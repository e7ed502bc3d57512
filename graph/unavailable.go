package graph

import (
	"context"
	"net/http"
	"sync/atomic"
)

// A request that met a database it could not reach is answered HTTP 503
// (with Retry-After), so that clients and proxies know a retry may succeed.
// The error presenter, which decides that an error means "unavailable",
// runs deep inside gqlgen's executor; it marks the request through a flag
// its transport put in the context, and the transport sets the status.

type unavailableKey struct{}

// withUnavailableFlag returns r with a fresh flag in its context, and the
// flag. Root fields resolve concurrently, hence atomic.
func withUnavailableFlag(r *http.Request) (*http.Request, *atomic.Bool) {
	flag := new(atomic.Bool)
	return r.WithContext(context.WithValue(r.Context(), unavailableKey{}, flag)), flag
}

// markUnavailable records, for ctx's request, that an error was answered
// as SERVICE_UNAVAILABLE.
func markUnavailable(ctx context.Context) {
	if flag, ok := ctx.Value(unavailableKey{}).(*atomic.Bool); ok {
		flag.Store(true)
	}
}

// UnavailableStatus returns the status for a request that met an
// unreachable database, and sets the header that goes with it. The
// authentication middleware answers with it too.
func UnavailableStatus(h http.Header) int {
	h.Set("Retry-After", "1")
	return http.StatusServiceUnavailable
}
