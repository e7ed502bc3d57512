package graphiql_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/brickgallery/sets/internal/graphiql"
)

// do sends a request to a fresh handler for "/graphql" and returns the
// response with its body read.
func do(tb testing.TB, method, target string, header http.Header) (*http.Response, string) {
	tb.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	graphiql.Handler("/graphql").ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read body of %s %s: %v", method, target, err)
	}
	return res, string(body)
}

// mustPage returns the page's HTML, failing the test unless "/" answers 200.
func mustPage(tb testing.TB) string {
	tb.Helper()
	res, body := do(tb, http.MethodGet, "/", nil)
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("GET / = %d, want 200", res.StatusCode)
	}
	return body
}

var (
	urlAttr    = regexp.MustCompile(`\s(?:src|href)="([^"]*)"`)
	contentFor = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
)

// assetURLs returns every script and stylesheet URL on the page (relative to
// the page at "/"), failing the test if any URL points elsewhere: to another
// server, or to a scheme but the data: URL of the empty favicon.
func assetURLs(tb testing.TB, page string) []string {
	tb.Helper()
	var urls []string
	for _, m := range urlAttr.FindAllStringSubmatch(page, -1) {
		u := strings.ReplaceAll(m[1], "&amp;", "&")
		switch {
		case u == "data:,":
			continue
		case strings.Contains(u, "//") || strings.Contains(u, ":"):
			tb.Errorf("page references %q, want a relative URL on this server", u)
		case !strings.HasPrefix(u, "graphiql/"):
			tb.Errorf("page references %q, want it under graphiql/", u)
		}
		urls = append(urls, u)
	}
	if len(urls) != 6 {
		tb.Fatalf("page references %d scripts and stylesheets, want 6 (react, react-dom, graphiql js and css, start.js, page.css):\n%s", len(urls), page)
	}
	return urls
}

func TestPage(t *testing.T) {
	res, body := do(t, http.MethodGet, "/", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", res.StatusCode)
	}
	for name, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-cache",
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("Content-Security-Policy %q allows eval or another origin", csp)
	}
	if !strings.Contains(body, `data-endpoint="/graphql"`) {
		t.Errorf("page does not carry the endpoint /graphql:\n%s", body)
	}
}

func TestPageReferencesOnlyLocalAssets(t *testing.T) {
	page := mustPage(t)
	assetURLs(t, page)
	for _, scheme := range []string{"http://", "https://"} {
		if strings.Contains(page, scheme) {
			t.Errorf("page mentions %s: everything it loads must come from this server", scheme)
		}
	}
}

func TestAssetsServed(t *testing.T) {
	for _, u := range assetURLs(t, mustPage(t)) {
		t.Run(u, func(t *testing.T) {
			res, body := do(t, http.MethodGet, "/"+u, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /%s = %d, want 200", u, res.StatusCode)
			}
			path, _, _ := strings.Cut(u, "?")
			ext := path[strings.LastIndex(path, "."):]
			if got, want := res.Header.Get("Content-Type"), contentFor[ext]; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got, want := res.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
				t.Errorf("Cache-Control at the page's URL = %q, want %q", got, want)
			}
			if len(body) < 100 {
				t.Errorf("body is %d bytes, want the file", len(body))
			}

			// Without the page's ?v= the bytes may change with the
			// binary, so the browser must revalidate.
			res, _ = do(t, http.MethodGet, "/"+path, nil)
			if got, want := res.Header.Get("Cache-Control"), "no-cache"; res.StatusCode != http.StatusOK || got != want {
				t.Errorf("GET /%s = %d with Cache-Control %q, want 200 with %q", path, res.StatusCode, got, want)
			}
			etag := res.Header.Get("ETag")
			res, _ = do(t, http.MethodGet, "/"+u, http.Header{"If-None-Match": {etag}})
			if res.StatusCode != http.StatusNotModified {
				t.Errorf("GET with If-None-Match %s = %d, want 304", etag, res.StatusCode)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		method, target string
		want           int
	}{
		{http.MethodHead, "/", http.StatusOK},
		{http.MethodHead, "/graphiql/graphiql.min.js", http.StatusOK},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodPut, "/graphiql/start.js", http.StatusMethodNotAllowed},
		{http.MethodGet, "/index.html", http.StatusNotFound},
		{http.MethodGet, "/favicon.ico", http.StatusNotFound},
		{http.MethodGet, "/graphiql", http.StatusNotFound},
		{http.MethodGet, "/graphiql/", http.StatusNotFound},
		{http.MethodGet, "/graphiql/missing.js", http.StatusNotFound},
		{http.MethodGet, "/graphiql/README.md", http.StatusNotFound},
		{http.MethodGet, "/graphiql/assets/graphiql.min.js", http.StatusNotFound},
		{http.MethodGet, "/graphiql/../index.html", http.StatusNotFound},
		{http.MethodPost, "/nowhere", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			res, body := do(t, tt.method, tt.target, nil)
			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.want)
			}
			if tt.want == http.StatusMethodNotAllowed {
				if got, want := res.Header.Get("Allow"), "GET, HEAD"; got != want {
					t.Errorf("Allow = %q, want %q", got, want)
				}
			}
			if tt.method == http.MethodHead && body != "" {
				t.Errorf("HEAD answered a %d-byte body, want none", len(body))
			}
		})
	}
}

func TestEndpointEscaped(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	rec := httptest.NewRecorder()
	graphiql.Handler(`/q"><script>alert(1)</script>`).ServeHTTP(rec, req)
	if body := rec.Body.String(); strings.Contains(body, "<script>alert") {
		t.Errorf("endpoint written into the page unescaped:\n%s", body)
	}
}
