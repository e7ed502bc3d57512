package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestInternalErrorIsMasked breaks the database under the server (drops a
// table): the caller sees only "internal error" with a request id that
// leads to the real error in the log, and no SQL.
func TestInternalErrorIsMasked(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, fullInput())
	h.mustExec(t, "DROP TABLE set_images")

	r := h.do(t, token, `query($id: UUID!) { set(id: $id) { id images { id } } }`, map[string]any{"id": set.ID})
	e := mustFail(t, r, "INTERNAL_SERVER_ERROR", "")
	if e.Message != "internal error" {
		t.Errorf("message: got %q, want %q", e.Message, "internal error")
	}
	if e.Extensions.RequestID == "" || e.Extensions.RequestID != r.Header.Get("X-Request-ID") {
		t.Errorf("requestId: got %q, want the X-Request-ID header %q", e.Extensions.RequestID, r.Header.Get("X-Request-ID"))
	}
	for _, leak := range []string{"set_images", "SQLSTATE", "relation", "does not exist", "SELECT", "42P01"} {
		if bytes.Contains(r.Body, []byte(leak)) {
			t.Errorf("the response shows %q:\n%s", leak, r.Body)
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, e.Extensions.RequestID) || !strings.Contains(logs, "set_images") {
		t.Errorf("the log does not tie request %s to the real error:\n%s", e.Extensions.RequestID, logs)
	}

	// A mutation failing inside the database is masked the same way.
	h.mustExec(t, "DROP TABLE sets CASCADE")
	r = h.do(t, token, createSetMutation, map[string]any{"input": map[string]any{"title": "x"}})
	mustFail(t, r, "INTERNAL_SERVER_ERROR", "")
	if bytes.Contains(r.Body, []byte("sets")) || bytes.Contains(r.Body, []byte("SQLSTATE")) {
		t.Errorf("the response shows database details:\n%s", r.Body)
	}
}

// postRaw posts body to /graphql with the given length framing: a known
// Content-Length, or chunked when chunked is true.
func (h *harness) postRaw(t *testing.T, token string, body []byte, chunked bool) response {
	t.Helper()
	var reader io.Reader = bytes.NewReader(body)
	if chunked {
		pr, pw := io.Pipe()
		go func() {
			// The server may stop reading (and close) early: a write error
			// then is expected.
			_, err := pw.Write(body)
			pw.CloseWithError(err)
		}()
		t.Cleanup(func() { pr.Close() })
		reader = pr
	}
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", reader)
	if err != nil {
		t.Fatal(err)
	}
	if chunked && req.ContentLength != 0 {
		t.Fatalf("request is not chunked: Content-Length %d", req.ContentLength)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return h.send(t, req)
}

// bodyOfSize is a valid GraphQL request of exactly n bytes (padded with
// JSON whitespace).
func bodyOfSize(n int) []byte {
	const head, tail = `{"query": "{ me { id } }"`, `}`
	return []byte(head + strings.Repeat(" ", n-len(head)-len(tail)) + tail)
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.warm(t, token)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			mustOK(t, h.postRaw(t, token, bodyOfSize(1<<20), chunked), nil)
			h.rec.take() // that one ran `me`
			for _, size := range []int{1<<20 + 1, 8 << 20} {
				r := h.postRaw(t, token, bodyOfSize(size), chunked)
				if r.Status != http.StatusRequestEntityTooLarge || len(r.Errors) != 1 {
					t.Errorf("%d bytes: got %s, want HTTP 413 with one error", size, r)
				}
				if len(r.Body) > 1000 {
					t.Errorf("%d bytes: the answer has %d bytes; it must not echo the body", size, len(r.Body))
				}
				if got := h.rec.take(); len(got) > 0 {
					t.Errorf("%d bytes: ran SQL: %q", size, got)
				}
			}
		})
	}
}

// heaviestQuery is the heaviest query a real client sends: 100 sets with
// every field and their images, asked both as edges and as nodes.
func heaviestQuery(alias string) string {
	return alias + `sets(first: 100) { totalCount
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		edges { cursor node { ` + setFields + ` } }
		nodes { ` + setFields + ` } }`
}

func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	sets := galleryFixture(user, 100)
	h.mustInsertSets(t, sets...)
	h.mustInsertImages(t, sets, 2)
	h.warm(t, token)

	t.Run("heaviest real query passes", func(t *testing.T) {
		var data struct{ Sets struct{ Nodes []setJSON } }
		mustOK(t, h.do(t, token, "{"+heaviestQuery("")+"}", nil), &data)
		if n := len(data.Sets.Nodes); n != 100 || len(data.Sets.Nodes[99].Images) != 2 {
			t.Errorf("got %d sets, want 100 with their images", n)
		}
		h.rec.take()
	})
	var aliases, nodesOnly strings.Builder
	for i := range 10 {
		aliases.WriteString(heaviestQuery(fmt.Sprintf("a%d: ", i)) + "\n")
		nodesOnly.WriteString(fmt.Sprintf("a%d: sets(first: 100) { nodes { %s } }\n", i, setFields))
	}
	for name, q := range map[string]string{
		"ten times the heaviest":           "{" + aliases.String() + "}",
		"ten times 100 sets as nodes only": "{" + nodesOnly.String() + "}",
		"first over 100 costs like 100":    "{" + strings.ReplaceAll(nodesOnly.String(), "first: 100", "first: 1000") + "}",
	} {
		t.Run(name, func(t *testing.T) {
			h.rec.take()
			mustFail(t, h.do(t, token, q, nil), "QUERY_TOO_COMPLEX", "")
			if got := h.rec.take(); len(got) > 0 {
				t.Errorf("ran SQL before refusing: %q", got)
			}
		})
	}
	// The cost of a query is remembered, but by its variables too: the same
	// text is cheap with a page of 1 and refused with a page of 100, in
	// either order and again after the other.
	t.Run("cost follows the variables", func(t *testing.T) {
		q := "query Pages($n: Int!) {" + strings.ReplaceAll(nodesOnly.String(), "first: 100", "first: $n") + "}"
		for _, n := range []int{1, 100, 1, 100} {
			h.rec.take()
			r := h.do(t, token, q, map[string]any{"n": n})
			if n == 100 {
				mustFail(t, r, "QUERY_TOO_COMPLEX", "")
				if got := h.rec.take(); len(got) > 0 {
					t.Errorf("ran SQL before refusing: %q", got)
				}
				continue
			}
			var data map[string]struct{ Nodes []setJSON }
			mustOK(t, r, &data)
			if len(data) != 10 || len(data["a9"].Nodes) != 1 {
				t.Errorf("first: %d got %d pages (a9 has %d sets), want 10 pages of 1", n, len(data), len(data["a9"].Nodes))
			}
		}
	})
}

// graphiqlIntrospection is the query GraphiQL 3.8 sends (graphql-js
// getIntrospectionQuery with its defaults): 15 fields deep.
const graphiqlIntrospection = `
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.warm(t, token)

	t.Run("GraphiQL introspection passes", func(t *testing.T) {
		var data struct {
			Schema struct {
				QueryType struct{ Name string }
				Types     []struct{ Name string }
			} `json:"__schema"`
		}
		mustOK(t, h.do(t, token, graphiqlIntrospection, nil), &data)
		if data.Schema.QueryType.Name != "Query" || len(data.Schema.Types) < 10 {
			t.Errorf("got query type %q and %d types, want Query and the schema's types", data.Schema.QueryType.Name, len(data.Schema.Types))
		}
	})
	deep := "fields { name }"
	for range 10 {
		deep = "fields { type { " + deep + " } }"
	}
	for name, q := range map[string]string{
		"deep introspection": `{ __type(name: "Query") { ` + deep + ` } }`,
		"deep ofType":        `{ __schema { types { ` + strings.Repeat("ofType { ", 20) + "name" + strings.Repeat(" }", 20) + ` } } }`,
		"deep through fragments": `{ __type(name: "Set") { ...A } }
			fragment A on __Type { fields { type { ...B } } }
			fragment B on __Type { fields { type { ...C } } }
			fragment C on __Type { fields { type { ...D } } }
			fragment D on __Type { fields { type { ...E } } }
			fragment E on __Type { fields { type { ...F } } }
			fragment F on __Type { fields { type { ...G } } }
			fragment G on __Type { fields { type { ...H } } }
			fragment H on __Type { fields { type { name } } }`,
	} {
		t.Run(name, func(t *testing.T) {
			h.rec.take()
			mustFail(t, h.do(t, token, q, nil), "QUERY_TOO_COMPLEX", "")
			if got := h.rec.take(); len(got) > 0 {
				t.Errorf("ran SQL before refusing: %q", got)
			}
		})
	}
}

func TestGET(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	get := func(t *testing.T, params url.Values) response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/graphql?"+params.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return h.send(t, req)
	}

	t.Run("query", func(t *testing.T) {
		r := get(t, url.Values{"query": {`query($id: UUID!) { set(id: $id) { id } me { id } }`},
			"variables": {`{"id": "` + uuid.NewString() + `"}`}})
		mustOK(t, r, nil)
		if want := `{"set":null,"me":{"id":"` + user.String() + `"}}`; string(r.Data) != want {
			t.Errorf("got %s, want %s", r.Data, want)
		}
	})
	t.Run("mutation is refused", func(t *testing.T) {
		r := get(t, url.Values{"query": {`mutation { createSet(input: {title: "via GET"}) { set { id } } }`}})
		if r.Status != http.StatusMethodNotAllowed || len(r.Errors) != 1 {
			t.Errorf("got %s, want HTTP 405 with one error (GraphQL over HTTP)", r)
		}
		if allow := r.Header.Get("Allow"); allow != "POST" {
			t.Errorf("Allow: got %q, want POST", allow)
		}
		if n := h.count(t, "sets"); n != 0 {
			t.Errorf("sets: got %d rows, want 0", n)
		}
	})
	t.Run("other methods", func(t *testing.T) {
		for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
			req, err := http.NewRequest(method, h.srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			if r := h.send(t, req); r.Status != http.StatusMethodNotAllowed {
				t.Errorf("%s: got %s, want HTTP 405", method, r)
			}
		}
	})
}

// TestMalformedRequests: a body that is not a GraphQL request is the
// client's mistake, answered without echoing the body back.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for name, tc := range map[string]struct{ contentType, body string }{
		"not JSON":               {"application/json", `{"query": "{ me { id } }", SECRET-TOKEN-IN-BODY`},
		"JSON array":             {"application/json", `["SECRET-TOKEN-IN-BODY"]`},
		"query not a string":     {"application/json", `{"query": ["SECRET-TOKEN-IN-BODY"]}`},
		"variables not object":   {"application/json", `{"query": "{ me { id } }", "variables": "SECRET-TOKEN-IN-BODY"}`},
		"two objects":            {"application/json", `{"query": "{ me { id } }"} {"SECRET-TOKEN-IN-BODY": 1}`},
		"no query":               {"application/json", `{"SECRET-TOKEN-IN-BODY": 1}`},
		"unparsable query":       {"application/json", `{"query": "{ me { id } SECRET-TOKEN-IN-BODY"}`},
		"unsupported media type": {"text/plain", `{"query": "{ me { id } }", "x": "SECRET-TOKEN-IN-BODY"}`},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Authorization", "Bearer "+token)
			r := h.send(t, req)
			if r.Status < 400 || r.Status >= 500 || len(r.Errors) == 0 {
				t.Errorf("got %s, want a 4xx with an error", r)
			}
			if bytes.Contains(r.Body, []byte("SECRET-TOKEN-IN-BODY")) {
				t.Errorf("the answer echoes the body: %s", r.Body)
			}
		})
	}
}

// TestUnsupportedMediaType: a POST body not declared as JSON is refused
// with 415 and a coded error, whatever its content.
func TestUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=utf-8"} {
		req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		r := h.send(t, req)
		if ct == "application/json; charset=utf-8" {
			mustOK(t, r, nil)
			continue
		}
		if r.Status != http.StatusUnsupportedMediaType || len(r.Errors) == 0 || r.Errors[0].Extensions.Code != "BAD_REQUEST" {
			t.Errorf("Content-Type %q: got %s, want HTTP 415 coded BAD_REQUEST", ct, r)
		}
	}
}
