package server

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/reqid"
)

// serveMedia answers GET /media/{key} from the store (SPEC §8). A key is
// written once and never changes, so it is its own ETag and may be cached
// for ever; http.ServeContent answers conditional requests (304) and byte
// ranges (206) from it. No token is asked for: a key's 160 random bits
// are the capability, as a photo CDN's URLs are.
func serveMedia(st media.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if !media.ValidKey(key) {
			http.Error(w, "no such media", http.StatusNotFound)
			return
		}
		obj, err := st.Open(r.Context(), key)
		if errors.Is(err, media.ErrNotFound) {
			http.Error(w, "no such media", http.StatusNotFound)
			return
		}
		if err != nil {
			log.ErrorContext(r.Context(), "open media", "request_id", reqid.FromContext(r.Context()), "key", key, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		defer obj.Close()
		h.Set("Content-Type", obj.ContentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", `"`+key+`"`)
		http.ServeContent(w, r, "", obj.ModTime, obj)
	})
}
