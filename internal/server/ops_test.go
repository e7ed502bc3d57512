package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// get fetches path without credentials and returns the status and body.
func (h *harness) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := h.srv.Client().Get(h.srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if status, _ := h.get(t, "/healthz"); status != http.StatusOK {
		t.Errorf("/healthz: got HTTP %d, want 200", status)
	}
	if status, body := h.get(t, "/readyz"); status != http.StatusOK {
		t.Errorf("/readyz with every migration applied: got HTTP %d (%s), want 200", status, body)
	}
	// A migration goes missing from the record: the schema is behind.
	h.mustExec(t, "DELETE FROM bun_migrations WHERE id = (SELECT max(id) FROM bun_migrations)")
	if status, body := h.get(t, "/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "pending") {
		t.Errorf("/readyz with a migration pending: got HTTP %d (%s), want 503 naming it pending", status, body)
	}
	if status, _ := h.get(t, "/healthz"); status != http.StatusOK {
		t.Errorf("/healthz while not ready: got HTTP %d, want 200 (the process lives)", status)
	}
	h.mustExec(t, "DROP TABLE bun_migrations")
	if status, body := h.get(t, "/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with no migrations table: got HTTP %d (%s), want 503", status, body)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for range 2 {
		mustOK(t, h.do(t, token, `query Gallery { sets(first: 5) { totalCount } }`, nil), nil)
	}
	mustOK(t, h.do(t, token, `{ me { id } }`, nil), nil)
	r := h.do(t, token, `mutation Remove($id: UUID!) { deleteSet(id: $id) { deletedId } }`, map[string]any{"id": uuid.NewString()})
	mustFail(t, r, "NOT_FOUND", "")
	r = h.do(t, token, `query Gallery { sets(first: 500) { totalCount } }`, nil)
	mustFail(t, r, "BAD_USER_INPUT", "first")

	status, body := h.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: got HTTP %d, want 200", status)
	}
	for _, want := range []string{
		`sets_graphql_requests_total{operation="Gallery",outcome="ok"} 2`,
		`sets_graphql_requests_total{operation="Gallery",outcome="BAD_USER_INPUT"} 1`,
		`sets_graphql_requests_total{operation="Remove",outcome="NOT_FOUND"} 1`,
		`sets_graphql_requests_total{operation="anonymous",outcome="ok"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, series := range []string{`sets_graphql_request_duration_seconds_bucket{operation="Gallery"`, "go_sql_open_connections"} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %s…", series)
		}
	}
	if m := regexp.MustCompile(`(?m)^go_sql_max_open_connections\{[^}]*\} (\d+)$`).FindStringSubmatch(body); m == nil || m[1] == "0" {
		t.Errorf("/metrics: no database pool size (got %v)", m)
	}
	// The bound on reads, as configured; nothing reads now, and nothing
	// had to wait for these few sequential requests.
	for _, want := range []string{
		"sets_db_reads_max_active 4", "sets_db_reads_active 0", "sets_db_reads_waiting 0",
		"sets_db_read_waits_total 0", "sets_db_read_wait_seconds_total 0",
	} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(body) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRequestID: every answer carries a request id; a sane one from a
// proxy is kept, anything else replaced.
func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for sent, keep := range map[string]bool{"proxy-id-123": true, "": false, "bad id\nwith a newline": false, strings.Repeat("a", 65): false} {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/healthz", nil)
		if sent != "" {
			req.Header["X-Request-Id"] = []string{sent}
		}
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			// Go refuses to send a header with a newline: nothing to check.
			continue
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-ID")
		if keep && got != sent || !keep && (got == "" || got == sent) {
			t.Errorf("sent %q: got X-Request-ID %q", sent, got)
		}
	}
}

// TestIntrospectionAndGraphiQLByEnvironment: development serves GraphiQL and
// answers introspection; production does neither unless asked to.
func TestIntrospectionAndGraphiQLByEnvironment(t *testing.T) {
	t.Parallel()
	const introspection = `{ __schema { queryType { name } } }`
	secret := strings.Repeat("s", 32)
	for _, tc := range []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"development", map[string]string{"APP_ENV": "development"}, true},
		{"production", map[string]string{"APP_ENV": "production", "AUTH_JWT_SECRET": secret}, false},
		{"production, asked for", map[string]string{"APP_ENV": "production", "AUTH_JWT_SECRET": secret,
			"GRAPHIQL_ENABLED": "true", "INTROSPECTION_ENABLED": "true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessEnv(t, tc.env)
			_, token := h.newUser(t)
			status, body := h.get(t, "/")
			if served := status == http.StatusOK && body == "graphiql stub"; served != tc.on {
				t.Errorf("GET /: got HTTP %d %q, want GraphiQL served: %v", status, body, tc.on)
			}
			r := h.do(t, token, introspection, nil)
			if answered := r.Status == http.StatusOK && len(r.Errors) == 0; answered != tc.on {
				t.Errorf("introspection: got %s, want answered: %v", r, tc.on)
			}
			if !tc.on {
				mustFail(t, r, "GRAPHQL_VALIDATION_FAILED", "")
				viaFragment := h.do(t, token, `{ ...F } fragment F on Query { __type(name: "Set") { name } }`, nil)
				mustFail(t, viaFragment, "GRAPHQL_VALIDATION_FAILED", "")
				if strings.Contains(h.logs.String(), "level=ERROR") {
					t.Errorf("a refused introspection was logged as a server error:\n%s", h.logs.String())
				}
			}
			mustOK(t, h.do(t, token, `{ __typename me { id } }`, nil), nil)
		})
	}
}

// TestCORS: an allowed origin's preflight is answered without a token, and
// the browser may read every answer, a 401 included; other origins get no
// CORS headers.
func TestCORS(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example.com"
	h := newHarnessEnv(t, map[string]string{"APP_ENV": "development", "CORS_ALLOWED_ORIGINS": origin})
	send := func(method, from string, header map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, h.srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Origin", from)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
	resp := send(http.MethodOptions, origin, preflight)
	if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight: got HTTP %d %v, want it allowed for %s with Authorization", resp.StatusCode, resp.Header, origin)
	}
	resp = send(http.MethodPost, origin, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("POST without a token: got HTTP %d, Allow-Origin %q; want 401 readable by %s",
			resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), origin)
	}
	resp = send(http.MethodOptions, "https://evil.example", preflight)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from another origin: Access-Control-Allow-Origin %q, want none", got)
	}
}
