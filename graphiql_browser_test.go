//go:build browser

// The browser test needs Debian's Chromium, which a developer's machine may
// not have: it is built only with `-tags browser` (README "Tests"), so the
// README's plain test command passes on a machine with Go and PostgreSQL
// alone, and CI, which installs Chromium, runs it with the tag.

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/seed"
	"github.com/brickgallery/sets/internal/testdb"
)

// chromiumPath is Debian's Chromium, which .ci/install-browser installs.
const chromiumPath = "/usr/bin/chromium"

// browserQuery is the gallery query the browser runs: every seeded set fits
// on the page, so the check does not depend on their order.
const browserQuery = `{ sets(first: 50) { totalCount nodes { title theme } } }`

// TestGraphiQLInBrowser proves that GraphiQL works with no internet: the real
// server, started as `sets serve` would, serves the page and every asset it
// needs, and headless Chromium runs the gallery query with a token and shows
// the seeded sets in the result pane.
func TestGraphiQLInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("no browser for the GraphiQL test (built by -tags browser): %v\n"+
			"Install Debian's Chromium: apt-get update && apt-get install -y chromium (or run .ci/install-browser),\n"+
			"or leave out -tags browser to run every other test", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	base, token := startSeededServer(t, ctx)
	mustServeGraphiQL(t, ctx, base)
	tab := newBrowserTab(t, ctx)
	violations := recordCSPViolations(t, tab)
	console := collectConsole(tab)

	headers := fmt.Sprintf(`{"Authorization":"Bearer %s"}`, token)
	pageURL := base + "/?" + url.Values{"query": {browserQuery}, "headers": {headers}}.Encode()
	loadCtx, cancelLoad := context.WithTimeout(tab, 20*time.Second)
	defer cancelLoad()
	if err := chromedp.Do(loadCtx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("open GraphiQL at %s: %v\nbrowser console:\n%s", base, err, console())
	}
	// The execute button shows before the editors exist, and a click then
	// does nothing: wait for the editors, filled from the URL.
	if state, err := waitFor(loadCtx, editorsJS, isReady); err != nil {
		saveScreenshot(t, tab)
		t.Fatalf("GraphiQL's editors never held the query and the token: %v\neditors: %s\nbrowser console:\n%s",
			err, state, console())
	}

	// GraphiQL loads the schema (by introspection) when it starts, and
	// writes a failure into the result pane: let that finish first, so it
	// cannot overwrite the gallery's result. The documentation explorer
	// shows the outcome.
	if err := chromedp.Do(loadCtx, chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`))); err != nil {
		t.Fatalf("open the documentation explorer: %v", err)
	}
	schema, err := waitFor(loadCtx, schemaJS, isSet)
	switch {
	case err != nil:
		t.Errorf("GraphiQL never finished loading the schema: %v", err)
	case schema != "loaded":
		pane, _ := chromedp.Run(tab, chromedp.Evaluate[string](resultPaneJS))
		t.Errorf("GraphiQL could not load the schema (no docs, no autocompletion): %s\nresult pane:\n%s", schema, pane)
	}

	if err := chromedp.Do(loadCtx, chromedp.Click(chromedp.CSS(".graphiql-execute-button"))); err != nil {
		t.Fatalf("click GraphiQL's execute button: %v", err)
	}
	resultCtx, cancelResult := context.WithTimeout(tab, 15*time.Second)
	defer cancelResult()
	result, err := waitFor(resultCtx, resultPaneJS, func(pane string) bool {
		return strings.Contains(pane, "Millennium Falcon") && strings.Contains(pane, `"totalCount": 41`)
	})
	saveScreenshot(t, tab)
	if err != nil {
		t.Fatalf("result pane never showed the seeded sets (Millennium Falcon, totalCount 41): %v\nresult pane:\n%s\nbrowser console:\n%s",
			err, result, console())
	}

	// The dialogs are what needs the policy's inline styles (see
	// internal/graphiql): open one, so a stricter policy fails here.
	dialogCtx, cancelDialog := context.WithTimeout(tab, 5*time.Second)
	defer cancelDialog()
	err = chromedp.Do(dialogCtx,
		chromedp.Click(chromedp.CSS(`button[aria-label="Open settings dialog"]`)),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-dialog")),
	)
	if err != nil {
		t.Errorf("open GraphiQL's settings dialog: %v", err)
	}
	runSubscription(t, tab, base, headers, token, console)
	if got := violations(); len(got) > 0 {
		t.Errorf("the page's Content-Security-Policy blocked:\n  %s", strings.Join(got, "\n  "))
	}
}

// browserSubscription is what the browser subscribes to.
const browserSubscription = `subscription Live { collectionChanged { kind set { title } } }`

// runSubscription opens GraphiQL with a subscription and the token in the
// headers editor, runs it, creates a set through the API, and waits for the
// change to show in the result pane: GraphiQL runs subscriptions over
// graphql-transport-ws, with the Headers tab as connection_init's payload.
func runSubscription(t *testing.T, tab context.Context, base, headers, token string, console func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	pageURL := base + "/?" + url.Values{"query": {browserSubscription}, "headers": {headers}}.Encode()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("open GraphiQL with a subscription: %v", err)
	}
	if state, err := waitFor(ctx, editorsJS, isReady); err != nil {
		t.Fatalf("GraphiQL's editors never held the subscription and the token: %v\neditors: %s", err, state)
	}
	// As above: the schema first, so its loading cannot overwrite the
	// result. The explorer is still open from the first page (GraphiQL
	// keeps that in localStorage); if not, open it.
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := waitFor(sctx, schemaJS, isSet)
	scancel()
	if err != nil {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`))); err != nil {
			t.Fatalf("open the documentation explorer: %v", err)
		}
		if _, err := waitFor(ctx, schemaJS, isSet); err != nil {
			t.Fatalf("GraphiQL never loaded the schema for the subscription: %v", err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".graphiql-execute-button"))); err != nil {
		t.Fatalf("click GraphiQL's execute button: %v", err)
	}
	// The socket opens asynchronously: create sets until one shows.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			body := fmt.Sprintf(`{"query":"mutation { createSet(input: {title: \"Live %d\"}) { set { id } } }"}`, i)
			req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	pane, err := waitFor(ctx, resultPaneJS, func(p string) bool {
		return strings.Contains(p, "SET_CHANGED") && strings.Contains(p, `"title": "Live `)
	})
	if err != nil {
		saveScreenshot(t, tab)
		t.Fatalf("the subscription's changes never showed in the result pane: %v\nresult pane:\n%s\nbrowser console:\n%s",
			err, pane, console())
	}
}

// startSeededServer runs `sets serve` in process on a fresh database loaded
// with the demo collection, and returns its base URL and a token for the
// demo collector. The server stops, and is waited for, when t ends.
func startSeededServer(t *testing.T, ctx context.Context) (base, token string) {
	t.Helper()
	dbURL := testdb.URL(t)
	addr := freeAddr(t)
	env := testdb.ServerEnv(dbURL)
	env["ADDR"], env["APP_ENV"] = addr, "development"
	var logs lockedBuffer
	srvCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(srvCtx, []string{"serve"}, func(k string) string { return env[k] }, &logs, &logs)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve still running 20s after its context ended")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	base = "http://" + addr
	if err := waitHealthy(ctx, base+"/healthz", done); err != nil {
		t.Fatalf("server at %s: %v", addr, err)
	}
	if _, err := seed.Load(ctx, testdb.Open(t, dbURL)); err != nil {
		t.Fatalf("seed the demo collection: %v", err)
	}
	token, err := auth.Mint(config.DevJWTSecret, seed.DemoUserID, time.Hour)
	if err != nil {
		t.Fatalf("mint a token: %v", err)
	}
	return base, token
}

// mustServeGraphiQL fails the test at once, rather than after the browser's
// timeout, when the server has no GraphiQL page at "/".
func mustServeGraphiQL(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /: %v", err)
	}
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET / = %d %q, want 200 with the GraphiQL page (APP_ENV=development)", res.StatusCode, ct)
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago: run takes its address from ADDR and does not report the port it got.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls url until it answers 200, the server exits, or ctx ends.
func waitHealthy(ctx context.Context, url string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("serve exited before answering /healthz: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("/healthz never answered 200 (last error: %v): %w", err, ctx.Err())
		case <-tick.C:
		}
	}
}

// newBrowserTab starts headless Chromium with a fresh profile and returns a
// context for one tab. The browser ends with t.
func newBrowserTab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root, which the sandbox refuses
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// Without these Chromium keeps calling Google's services, which on
		// a machine with no internet only slows everything down.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // also waits for the browser to exit
	})
	return tab
}

// recordCSPViolations makes every page the tab opens remember what its
// Content-Security-Policy blocked, and returns a func that reads the list.
func recordCSPViolations(t *testing.T, tab context.Context) func() []string {
	t.Helper()
	const recorder = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});`
	_, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: recorder})
	if err != nil {
		t.Fatalf("start Chromium (%s): %v", chromiumPath, err)
	}
	return func() []string {
		got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.__cspViolations`))
		if err != nil {
			return []string{"(could not read the violations: " + err.Error() + ")"}
		}
		slices.Sort(got)
		return slices.Compact(got)
	}
}

// collectConsole records the tab's console messages and exceptions, and
// returns a func that formats those seen so far.
func collectConsole(tab context.Context) func() string {
	var (
		mu    sync.Mutex
		lines []string
	)
	messages := chromedp.Console(tab)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			lines = append(lines, fmt.Sprintf("  %s: %s", m.Type, m.Text))
			mu.Unlock()
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(lines) == 0 {
			return "  (nothing)"
		}
		return strings.Join(lines, "\n")
	}
}

// editorsJS reports "ready" once GraphiQL's query, headers and result
// editors exist with the query and the token in them, and otherwise what
// they hold. GraphiQL's editors are CodeMirror 5 instances, which keep their
// API on their element.
const editorsJS = `(() => {
  const value = (el) => (el && el.CodeMirror ? el.CodeMirror.getValue() : null);
  const query = value(document.querySelector('.graphiql-query-editor .CodeMirror'));
  const headers = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]
    .map(value).find((v) => v && v.includes('Authorization'));
  const response = value(document.querySelector('.graphiql-response .CodeMirror'));
  if (query && (query.includes('sets(') || query.includes('collectionChanged')) && headers && headers.includes('Bearer ') && response !== null) {
    return 'ready';
  }
  return JSON.stringify({ query, headers, response });
})()`

// schemaJS reports "loaded" once the documentation explorer shows the
// schema, "error: ..." once loading it failed, and "" while it loads.
const schemaJS = `(() => {
  if (document.querySelector('.graphiql-doc-explorer-root-type')) return 'loaded';
  const refetch = document.querySelector('button[aria-label="Re-fetch GraphQL schema"]');
  const failed = document.querySelector('.graphiql-doc-explorer-error');
  if (failed && refetch && !refetch.disabled) return 'error: ' + failed.innerText;
  return '';
})()`

// resultPaneJS returns the text of GraphiQL's result pane, from its
// CodeMirror instance: the DOM holds only the lines in view.
const resultPaneJS = `(() => {
  const el = document.querySelector('.graphiql-response .CodeMirror');
  return el && el.CodeMirror ? el.CodeMirror.getValue() : '';
})()`

func isReady(s string) bool { return s == "ready" }
func isSet(s string) bool   { return s != "" }

// waitFor evaluates the JavaScript expression expr in the tab every 100ms
// until done accepts its value or ctx ends, and returns the last value.
func waitFor(ctx context.Context, expr string, done func(string) bool) (string, error) {
	var last string
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err == nil {
			last = v
			if done(v) {
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// saveScreenshot stores what the tab shows in the test's artifact
// directory (kept with go test -artifacts).
func saveScreenshot(t *testing.T, tab context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), "graphiql.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// lockedBuffer is a bytes.Buffer the server can log into while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
