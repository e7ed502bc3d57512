package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/persisted"
)

// pqRequest is a request in Apollo's persisted-query protocol: the hash in
// extensions.persistedQuery, the query text only when set.
type pqRequest struct {
	method        string // POST or GET
	query, hash   string
	operationName string
	vars          map[string]any
	version       any  // 1 unless set
	noExtension   bool // a plain request: no extensions at all
}

// persistedQuery sends r as token's user.
func (h *harness) persistedQuery(t *testing.T, token string, r pqRequest) response {
	t.Helper()
	version := r.version
	if version == nil {
		version = 1
	}
	var ext map[string]any
	if !r.noExtension {
		ext = map[string]any{"persistedQuery": map[string]any{"version": version, "sha256Hash": r.hash}}
	}
	var req *http.Request
	var err error
	if r.method == http.MethodGet {
		params := url.Values{}
		if ext != nil {
			params.Set("extensions", mustJSON(t, ext))
		}
		if r.query != "" {
			params.Set("query", r.query)
		}
		if r.operationName != "" {
			params.Set("operationName", r.operationName)
		}
		if r.vars != nil {
			params.Set("variables", mustJSON(t, r.vars))
		}
		req, err = http.NewRequest(http.MethodGet, h.srv.URL+"/graphql?"+params.Encode(), nil)
	} else {
		body := map[string]any{"extensions": ext, "variables": r.vars}
		if r.query != "" {
			body["query"] = r.query
		}
		if r.operationName != "" {
			body["operationName"] = r.operationName
		}
		req, err = http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", strings.NewReader(mustJSON(t, body)))
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return h.send(t, req)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustStatus checks r's HTTP status.
func mustStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.Status != want {
		t.Errorf("got %s, want HTTP %d", r, want)
	}
}

// mustLogRequest checks that the server logged a request line for the
// operation with the outcome.
func (h *harness) mustLogRequest(t *testing.T, operation, outcome string) {
	t.Helper()
	line := regexp.MustCompile(`msg=request .*operation=` + regexp.QuoteMeta(operation) + ` outcome=` + regexp.QuoteMeta(outcome))
	if !line.MatchString(h.logs.String()) {
		t.Errorf("no request line with operation=%s outcome=%s in the log:\n%s", operation, outcome, h.logs.String())
	}
}

const meQuery = `query WhoAmI { me { id } }`

func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	h.warm(t, token)
	wantMe := `{"me":{"id":"` + user.String() + `"}}`
	hash := persisted.Hash(meQuery)

	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run("unknown hash over "+method+" asks for the query", func(t *testing.T) {
			r := h.persistedQuery(t, token, pqRequest{method: method, hash: hash, operationName: "WhoAmI"})
			// HTTP 200, code and message: what Apollo's link retries on,
			// in every version.
			mustStatus(t, r, http.StatusOK)
			e := mustFail(t, r, "PERSISTED_QUERY_NOT_FOUND", "")
			if e.Message != "PersistedQueryNotFound" {
				t.Errorf("message: got %q, want PersistedQueryNotFound", e.Message)
			}
			if string(r.Data) != "" && string(r.Data) != "null" {
				t.Errorf("data: got %s, want none", r.Data)
			}
			if got := h.rec.take(); len(got) > 0 {
				t.Errorf("ran SQL for an unknown hash: %q", got)
			}
		})
	}
	h.mustLogRequest(t, "WhoAmI", "PERSISTED_QUERY_NOT_FOUND")

	t.Run("query and hash register it and run", func(t *testing.T) {
		r := h.persistedQuery(t, token, pqRequest{method: http.MethodPost, query: meQuery, hash: hash})
		mustOK(t, r, nil)
		if string(r.Data) != wantMe {
			t.Errorf("got %s, want %s", r.Data, wantMe)
		}
	})
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run("hash alone runs it over "+method, func(t *testing.T) {
			r := h.persistedQuery(t, token, pqRequest{method: method, hash: hash})
			mustOK(t, r, nil)
			if string(r.Data) != wantMe {
				t.Errorf("got %s, want %s", r.Data, wantMe)
			}
		})
	}
	t.Run("the log names the operation of a hash-only request", func(t *testing.T) {
		// No operationName was sent with the hash: the name comes from the
		// stored document.
		if n := strings.Count(h.logs.String(), "operation=WhoAmI outcome=ok"); n != 3 {
			t.Errorf("got %d request lines for WhoAmI ok, want 3 (register, POST, GET):\n%s", n, h.logs.String())
		}
	})
	t.Run("the hash is read in either case", func(t *testing.T) {
		r := h.persistedQuery(t, token, pqRequest{method: http.MethodPost, hash: strings.ToUpper(hash)})
		mustOK(t, r, nil)
	})
	t.Run("a hash that is not the query's is refused and not registered", func(t *testing.T) {
		other := persisted.Hash(`{ tags { tag } }`)
		r := h.persistedQuery(t, token, pqRequest{method: http.MethodPost, query: meQuery, hash: other})
		mustStatus(t, r, http.StatusUnprocessableEntity)
		mustFail(t, r, "BAD_REQUEST", "")
		r = h.persistedQuery(t, token, pqRequest{method: http.MethodPost, hash: other})
		mustFail(t, r, "PERSISTED_QUERY_NOT_FOUND", "")
	})
	for name, req := range map[string]pqRequest{
		"version 2":          {method: http.MethodPost, query: meQuery, hash: hash, version: 2},
		"a hash that is hex": {method: http.MethodPost, query: meQuery, hash: "abc123"},
		"no hash":            {method: http.MethodGet, query: meQuery},
	} {
		t.Run("a malformed extension is refused: "+name, func(t *testing.T) {
			r := h.persistedQuery(t, token, req)
			mustStatus(t, r, http.StatusUnprocessableEntity)
			mustFail(t, r, "BAD_REQUEST", "")
		})
	}
	if strings.Contains(h.logs.String(), "level=ERROR") {
		t.Errorf("a client's persisted-query mistake was logged as a server error:\n%s", h.logs.String())
	}
}

func TestPersistedMutation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	const create = `mutation Add($input: CreateSetInput!) { createSet(input: $input) { set { title } } }`
	hash := persisted.Hash(create)
	vars := map[string]any{"input": map[string]any{"title": "Millennium Falcon"}}

	mustOK(t, h.persistedQuery(t, token, pqRequest{method: http.MethodPost, query: create, hash: hash, vars: vars}), nil)
	r := h.persistedQuery(t, token, pqRequest{method: http.MethodPost, hash: hash, vars: vars})
	mustOK(t, r, nil)
	if want := `{"createSet":{"set":{"title":"Millennium Falcon"}}}`; string(r.Data) != want {
		t.Errorf("got %s, want %s", r.Data, want)
	}
	if n := h.count(t, "sets"); n != 2 {
		t.Fatalf("sets: got %d rows, want 2 (registered, then by hash)", n)
	}

	// A stored mutation stays POST-only: a GET must not write, even when a
	// cache in front of the API would replay it.
	r = h.persistedQuery(t, token, pqRequest{method: http.MethodGet, hash: hash, vars: vars})
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
		t.Errorf("mutation by hash over GET: got %s (Allow %q), want HTTP 405, Allow: POST", r, r.Header.Get("Allow"))
	}
	if n := h.count(t, "sets"); n != 2 {
		t.Errorf("sets after a GET: got %d rows, want still 2", n)
	}
}

// writeManifest writes an Apollo persisted-query manifest of docs and
// returns its path.
func writeManifest(t *testing.T, docs ...string) string {
	t.Helper()
	type op struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
		Body string `json:"body"`
	}
	m := struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		Operations []op   `json:"operations"`
	}{Format: "apollo-persisted-query-manifest", Version: 1}
	for _, d := range docs {
		fields := strings.Fields(d)
		m.Operations = append(m.Operations, op{ID: persisted.Hash(d), Name: strings.SplitN(fields[1], "(", 2)[0], Type: fields[0], Body: d})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "persisted-query-manifest.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrustedDocuments(t *testing.T) {
	t.Parallel()
	const create = `mutation Add($input: CreateSetInput!) { createSet(input: $input) { set { title } } }`
	h := newHarnessEnv(t, map[string]string{
		"APP_ENV":           config.EnvProduction,
		"AUTH_JWT_SECRET":   strings.Repeat("s", 32),
		"TRUSTED_DOCUMENTS": writeManifest(t, meQuery, create),
	})
	user, token := h.newUser(t)
	wantMe := `{"me":{"id":"` + user.String() + `"}}`
	hash := persisted.Hash(meQuery)

	accepted := map[string]pqRequest{
		"by hash over POST":             {method: http.MethodPost, hash: hash},
		"by hash over GET":              {method: http.MethodGet, hash: hash},
		"its full text with its hash":   {method: http.MethodPost, query: meQuery, hash: hash},
		"its full text with no hash":    {method: http.MethodPost, query: meQuery, noExtension: true},
		"its full text over GET":        {method: http.MethodGet, query: meQuery, noExtension: true},
		"by hash with an operationName": {method: http.MethodPost, hash: hash, operationName: "WhoAmI"},
	}
	for name, req := range accepted {
		t.Run("a trusted document runs "+name, func(t *testing.T) {
			r := h.persistedQuery(t, token, req)
			mustOK(t, r, nil)
			if string(r.Data) != wantMe {
				t.Errorf("got %s, want %s", r.Data, wantMe)
			}
		})
	}
	t.Run("a trusted mutation runs by hash", func(t *testing.T) {
		vars := map[string]any{"input": map[string]any{"title": "X-wing"}}
		mustOK(t, h.persistedQuery(t, token, pqRequest{method: http.MethodPost, hash: persisted.Hash(create), vars: vars}), nil)
	})

	h.rec.take()
	const other = `{ me { id email } }`
	refused := map[string]func(t *testing.T) response{
		"any other text": func(t *testing.T) response { return h.do(t, token, other, nil) },
		"introspection": func(t *testing.T) response {
			return h.do(t, token, `{ __schema { queryType { name } } }`, nil)
		},
		"an unknown hash": func(t *testing.T) response {
			return h.persistedQuery(t, token, pqRequest{method: http.MethodPost, hash: persisted.Hash(other)})
		},
		"an unknown hash over GET": func(t *testing.T) response {
			return h.persistedQuery(t, token, pqRequest{method: http.MethodGet, hash: persisted.Hash(other)})
		},
		"registering another document": func(t *testing.T) response {
			return h.persistedQuery(t, token, pqRequest{method: http.MethodPost, query: other, hash: persisted.Hash(other)})
		},
		"the unknown hash after registering": func(t *testing.T) response {
			return h.persistedQuery(t, token, pqRequest{method: http.MethodPost, hash: persisted.Hash(other)})
		},
	}
	for name, send := range refused {
		t.Run("refused: "+name, func(t *testing.T) {
			r := send(t)
			mustStatus(t, r, http.StatusUnprocessableEntity)
			mustFail(t, r, "TRUSTED_DOCUMENT_REQUIRED", "")
		})
	}
	if got := h.rec.take(); len(got) > 0 {
		t.Errorf("refused requests ran SQL: %q", got)
	}
	t.Run("a trusted document with another hash is a bad request", func(t *testing.T) {
		r := h.persistedQuery(t, token, pqRequest{method: http.MethodPost, query: meQuery, hash: persisted.Hash(other)})
		mustStatus(t, r, http.StatusUnprocessableEntity)
		mustFail(t, r, "BAD_REQUEST", "")
	})
	if n := h.count(t, "sets"); n != 1 {
		t.Errorf("sets: got %d rows, want 1 (the trusted mutation's)", n)
	}
}
