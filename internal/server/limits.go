package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/brickgallery/sets/internal/reqid"
)

// MaxBodyBytes is the largest request body accepted (SPEC §5).
const MaxBodyBytes = 1 << 20

// limitBody answers 413 to a body over max bytes (multipartMax for a
// multipart upload), whether it declares its length or arrives chunked,
// before anything parses it. gqlgen's POST transport reads bodies with no
// limit, and a plain http.MaxBytesReader would surface as a 200 with a
// decoding error (a 422 from gqlgen's multipart transport).
func limitBody(max, multipartMax int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			limitStream(multipartMax, next, w, r)
			return
		}
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

// limitStream is limitBody for uploads, which are too large to hold in
// memory before they are parsed: the body is read as the handler goes, and
// once it runs past max, whatever the handler answers is replaced by the
// same 413 as for a JSON body.
func limitStream(max int64, next http.Handler, w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > max {
		tooLarge(w, r, max)
		return
	}
	body := &cappedBody{r: r.Body, left: max}
	r.Body = body
	cw := &cappedWriter{ResponseWriter: w, body: body, r: r, max: max}
	next.ServeHTTP(cw, r)
	if body.over && !cw.replaced {
		cw.replace()
	}
}

// cappedBody reads at most left bytes and notes a body that had more.
type cappedBody struct {
	r    io.ReadCloser
	left int64
	over bool
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.over {
		return 0, errBodyTooLarge
	}
	if b.left <= 0 {
		// One byte more tells a body of exactly max bytes from a longer one.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			b.over = true
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.r.Close() }

var errBodyTooLarge = errors.New("request body too large")

// cappedWriter answers 413 in place of what the handler writes once the
// body has run past its limit.
type cappedWriter struct {
	http.ResponseWriter
	body     *cappedBody
	r        *http.Request
	max      int64
	wrote    bool // the handler's own answer went out
	replaced bool
}

func (w *cappedWriter) WriteHeader(status int) {
	if w.wrote || w.replaced {
		return
	}
	if w.body.over {
		w.replace()
		return
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *cappedWriter) Write(b []byte) (int, error) {
	if !w.wrote && !w.replaced {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(b), nil // the handler's answer, dropped
	}
	return w.ResponseWriter.Write(b)
}

func (w *cappedWriter) replace() {
	w.replaced = true
	tooLarge(w.ResponseWriter, w.r, w.max)
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
