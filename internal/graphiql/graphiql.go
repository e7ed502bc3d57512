// Package graphiql serves GraphiQL, the in-browser GraphQL IDE, with every
// file it needs embedded in the binary: the page works with no internet,
// unlike gqlgen's stock playground, which loads its scripts from a public CDN
// and renders a blank page offline.
//
// The vendored files are unchanged copies from the npm registry of
// graphiql 3.8.3 (its UMD build) and the UMD production builds of
// react 18.3.1 and react-dom 18.3.1, all MIT licensed; assets/README.md says
// where each file comes from and how to upgrade them.
package graphiql

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed index.html page.css start.js assets/*.js assets/*.css
var files embed.FS

// assetPrefix is where the assets are served, relative to the page.
const assetPrefix = "graphiql/"

// contentSecurityPolicy is sent with the page: everything comes from this
// server. Scripts from 'self' only: no CDN, no inline <script> (start.js is a
// file for that reason) and no eval, which the vendored bundles do not use
// (checked in Chromium with every sidebar panel and dialog opened). The rest
// is what GraphiQL needs, each found by a violation in the browser:
//   - style-src 'unsafe-inline': the settings and shortcut dialogs lock
//     scrolling with react-remove-scroll, which inserts <style> elements.
//     It could take a nonce, but only through a hook sealed inside the
//     webpack bundle, and its CSS varies with the scrollbar's width, so a
//     hash cannot list it either.
//   - font-src data: and img-src data:: graphiql.min.css inlines its fonts as
//     data URLs, and the page's empty favicon is one.
//   - connect-src 'self': the fetcher posts to the endpoint on this origin.
//
// Images from other servers stay blocked, so GraphiQL's hover preview of an
// imageUrl in a result shows nothing: the page makes no third-party requests.
const contentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"font-src data:; " +
	"img-src data:; " +
	"connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// assetCache is sent with an asset requested at its current content hash
// (the ?v= of the page's URLs): such a URL names these exact bytes forever.
const assetCache = "public, max-age=31536000, immutable"

// file is one response body the handler serves, fixed at start.
type file struct {
	body        []byte
	contentType string
	etag        string
	version     string // short content hash, the ?v= of the page's URLs
}

func newFile(body []byte, contentType string) *file {
	sum := sha256.Sum256(body)
	version := hex.EncodeToString(sum[:8])
	return &file{body: body, contentType: contentType, etag: `"` + version + `"`, version: version}
}

// handler serves the page and its assets.
type handler struct {
	page   *file
	assets map[string]*file // by name under assetPrefix
}

// Handler returns an http.Handler that serves the GraphiQL page at "/" and
// its assets at "/graphiql/<file>", the page talking to the GraphQL endpoint
// at the path endpoint (such as "/graphql"). Any other path is 404, and any
// method but GET and HEAD is 405. The asset URLs are relative, so the
// handler also works mounted under a prefix with http.StripPrefix.
func Handler(endpoint string) http.Handler {
	h, err := newHandler(endpoint)
	if err != nil {
		// Only the embedded files can cause this, and they are fixed when
		// the binary is built; the package's tests load them.
		panic(fmt.Sprintf("graphiql: %v", err))
	}
	return h
}

func newHandler(endpoint string) (*handler, error) {
	h := &handler{assets: make(map[string]*file)}
	names := []string{"page.css", "start.js"}
	vendored, err := files.ReadDir("assets")
	if err != nil {
		return nil, err
	}
	for _, e := range vendored {
		names = append(names, "assets/"+e.Name())
	}
	urls := make(map[string]string)
	for _, name := range names {
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		base := path.Base(name)
		f := newFile(body, contentTypes[path.Ext(base)])
		h.assets[base] = f
		urls[base] = assetPrefix + base + "?v=" + f.version
	}
	page, err := renderPage(endpoint, urls)
	if err != nil {
		return nil, err
	}
	h.page = newFile(page, "text/html; charset=utf-8")
	return h, nil
}

// contentTypes is fixed here rather than asked of package mime, whose answer
// for .js depends on the machine's /etc/mime.types.
var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
}

func renderPage(endpoint string, assets map[string]string) ([]byte, error) {
	tmpl, err := template.ParseFS(files, "index.html")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	data := struct {
		Endpoint string
		Assets   map[string]string
	}{endpoint, assets}
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render index.html: %w", err)
	}
	return buf.Bytes(), nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var f *file
	switch p := r.URL.Path; {
	case p == "/":
		f = h.page
	case strings.HasPrefix(p, "/"+assetPrefix):
		f = h.assets[strings.TrimPrefix(p, "/"+assetPrefix)]
	}
	if f == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("ETag", f.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	switch {
	case f == h.page:
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("Cache-Control", "no-cache")
	case r.URL.Query().Get("v") == f.version:
		hdr.Set("Cache-Control", assetCache)
	default:
		hdr.Set("Cache-Control", "no-cache")
	}
	// ServeContent answers HEAD, If-None-Match (304) and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
