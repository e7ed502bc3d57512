package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/csvio"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/reqid"
	"github.com/brickgallery/sets/internal/store"
)

// exportWriteTimeout is how long the client gets to take each batch of an
// export: the server's WriteTimeout covers a whole response, and a large
// collection may take longer than that to download in all.
const exportWriteTimeout = time.Minute

// exportSets serves GET /export/sets.csv (SPEC §9): the caller's sets as
// a CSV download, streamed batch by batch.
func exportSets(st *store.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		user, ok := auth.UserFromContext(r.Context())
		if !ok { // authenticate runs first; this is a wiring mistake
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		format, theme, err := exportParams(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="sets-%s.csv"`, time.Now().UTC().Format(time.DateOnly)))
		h.Set("Cache-Control", "no-store") // a collection is private
		h.Set("X-Content-Type-Options", "nosniff")
		rc := http.NewResponseController(w)
		src := csvio.FromStore(st, user, theme, format)
		sent := &countingWriter{w: w}
		err = csvio.Export(r.Context(), sent, format, func(ctx context.Context, fn func(csvio.Batch) error) error {
			return src(ctx, func(b csvio.Batch) error {
				// Not every ResponseWriter supports deadlines; the
				// server's own do.
				_ = rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout))
				return fn(b)
			})
		})
		if err != nil {
			exportFailed(w, r, log, sent.n, err)
		}
	})
}

// exportParams reads the query: format and theme, each at most once, and
// nothing else, so that a misspelt parameter is refused rather than
// silently exporting everything.
func exportParams(q url.Values) (csvio.Format, *string, error) {
	for k, v := range q {
		if k != "format" && k != "theme" {
			return "", nil, fmt.Errorf("unknown parameter %q: use format and theme", k)
		}
		if len(v) > 1 {
			return "", nil, fmt.Errorf("parameter %q is given %d times, give it once", k, len(v))
		}
	}
	format, err := csvio.ParseFormat(q.Get("format"))
	if err != nil {
		return "", nil, err
	}
	if !q.Has("theme") {
		return format, nil, nil
	}
	// Themes are stored trimmed, and none is empty (an empty one is null).
	theme := strings.TrimSpace(q.Get("theme"))
	if theme == "" {
		return "", nil, errors.New("theme may not be empty: leave it out to export every theme")
	}
	return format, &theme, nil
}

// exportFailed ends an export that failed. Before any byte went out it can
// still answer an error status; after, it aborts the response, so that the
// client sees a broken download instead of a file that looks complete.
func exportFailed(w http.ResponseWriter, r *http.Request, log *slog.Logger, sent int64, err error) {
	ctx, rid := r.Context(), reqid.FromContext(r.Context())
	if ctx.Err() != nil {
		log.InfoContext(ctx, "export: client went away", "request_id", rid, "bytes", sent, "err", err)
		return
	}
	log.ErrorContext(ctx, "export failed", "request_id", rid, "bytes", sent, "err", err)
	if sent > 0 {
		panic(http.ErrAbortHandler)
	}
	w.Header().Del("Content-Disposition")
	if postgres.Unavailable(err) {
		http.Error(w, "the database is unavailable, try again later (request "+rid+")", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "internal error (request "+rid+")", http.StatusInternalServerError)
}

// countingWriter counts the bytes that went through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
