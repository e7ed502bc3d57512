package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/brickgallery/sets/internal/reqid"
)

// MaxBodyBytes is the largest request body accepted (SPEC §5).
const MaxBodyBytes = 1 << 20

// limitBody answers 413 to a body over max bytes, whether it declares its
// length or arrives chunked, before anything parses it. gqlgen's POST
// transport reads bodies with no limit, and a plain http.MaxBytesReader
// would surface as a 200 with a decoding error.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			tooLarge(w, r, max)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			r.Body.Close()
			if err != nil {
				writeGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", "could not read the request body", reqid.FromContext(r.Context()))
				return
			}
			if int64(len(body)) > max {
				tooLarge(w, r, max)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, r *http.Request, max int64) {
	// Do not keep reading a huge body just to reuse the connection.
	w.Header().Set("Connection", "close")
	writeGraphQLError(w, http.StatusRequestEntityTooLarge, "BAD_USER_INPUT",
		fmt.Sprintf("request body is larger than %d MiB", max>>20), reqid.FromContext(r.Context()))
}

// writeGraphQLError answers with a GraphQL-shaped error body, so clients
// parse every failure the same way.
func writeGraphQLError(w http.ResponseWriter, status int, code, msg, requestID string) {
	ext := map[string]any{"code": code}
	if requestID != "" {
		ext["requestId"] = requestID
	}
	body, err := json.Marshal(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": ext}},
	})
	if err != nil {
		panic(errors.New("marshal error body")) // static shapes: cannot fail
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
