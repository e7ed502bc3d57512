package graph

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/brickgallery/sets/models"
)

// postJSON is the POST transport (application/json bodies). It replaces
// gqlgen's transport.POST for two reasons:
//   - on a body that is not JSON, gqlgen's echoes the whole body back in the
//     error message; ours says what is wrong and nothing more;
//   - gqlgen writes the response with json.Marshal, which re-validates and
//     copies the already-encoded data (about a tenth of the server's CPU on
//     a gallery page); ours writes the encoded data as it is.
//
// Requests must already be size-limited (internal/server does it).
type postJSON struct{}

var _ graphql.Transport = postJSON{}

func (postJSON) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == "application/json"
}

func (postJSON) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	r, unavailable := withUnavailableFlag(r)
	ctx := r.Context()
	start := graphql.Now()
	var params graphql.RawParams
	dec := json.NewDecoder(r.Body)
	dec.UseNumber() // keeps Decimal variables exact
	if err := dec.Decode(&params); err != nil || dec.More() {
		e := gqlerror.Errorf("the request body is not a JSON object with query, variables and operationName")
		e.Extensions = map[string]any{"code": "BAD_REQUEST"}
		writeResponse(w, http.StatusBadRequest, &graphql.Response{Errors: gqlerror.List{e}})
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	oc, errs := exec.CreateOperationContext(ctx, &params)
	recodeTokenLimit(errs)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		status := http.StatusOK
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			// As gqlgen's GET transport: a query that does not parse or
			// validate is 422.
			status = http.StatusUnprocessableEntity
		}
		writeResponse(w, status, resp)
		return
	}
	handler, ctx := exec.DispatchOperation(ctx, oc)
	resp := handler(ctx)
	status := http.StatusOK
	if unavailable.Load() {
		status = UnavailableStatus(w.Header())
	}
	writeResponse(w, status, resp)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// dataPrefix opens a response that holds only data.
var dataPrefix = []byte(`{"data":`)

// writeResponse writes resp as the GraphQL response object. Data comes
// from gqlgen's marshalers as compact, valid JSON, so it is written as is.
func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	if resp.Data != nil && len(resp.Errors) == 0 && len(resp.Extensions) == 0 {
		// The usual answer is sent without copying the data (a gallery
		// page is 70 KB): the closing brace goes into the spare capacity
		// gqlgen's buffer almost always has (the buffer is this
		// response's alone), and net/http's buffering sends the two
		// writes as it would send one.
		body := append(resp.Data, '}')
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(dataPrefix)+len(body)))
		w.WriteHeader(status)
		w.Write(dataPrefix)
		w.Write(body)
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 { // do not keep a huge buffer around
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	buf.WriteByte('{')
	sep := ""
	if len(resp.Errors) > 0 {
		b, err := json.Marshal(resp.Errors)
		if err != nil {
			b = []byte(`[{"message":"internal error","extensions":{"code":"` + string(models.CodeInternal) + `"}}]`)
		}
		buf.WriteString(`"errors":`)
		buf.Write(b)
		sep = ","
	}
	if resp.Data != nil {
		buf.WriteString(sep + `"data":`)
		buf.Write(resp.Data)
		sep = ","
	}
	if len(resp.Extensions) > 0 {
		if b, err := json.Marshal(resp.Extensions); err == nil {
			buf.WriteString(sep + `"extensions":`)
			buf.Write(b)
		}
	}
	buf.WriteByte('}')
	w.Header().Set("Content-Type", "application/json")
	// With a length, net/http sends the body as it is instead of chunked.
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// multipartForm is gqlgen's multipart transport (uploads), answering a
// request that met an unreachable database with 503 and Retry-After, as
// postJSON does: gqlgen's writes its answer with the status it chose.
type multipartForm struct{ transport.MultipartForm }

func (t multipartForm) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	r, unavailable := withUnavailableFlag(r)
	t.MultipartForm.Do(&unavailableWriter{ResponseWriter: w, unavailable: unavailable}, r, exec)
}

// unavailableWriter turns the 200 of an answer whose request met an
// unreachable database into a 503.
type unavailableWriter struct {
	http.ResponseWriter
	unavailable *atomic.Bool
	wrote       bool
}

func (w *unavailableWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if status == http.StatusOK && w.unavailable.Load() {
		status = UnavailableStatus(w.Header())
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *unavailableWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
