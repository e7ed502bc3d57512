package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/graph"
	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/reqid"
	"github.com/brickgallery/sets/models"
)

// userEnsurer creates a user row on first sight.
type userEnsurer interface {
	EnsureUser(ctx context.Context, id uuid.UUID) error
}

// knownUsers remembers which users already have a row, so that a request
// costs no INSERT ... ON CONFLICT once its user has been seen. It is bounded:
// when full it starts over, which costs one idempotent insert per user.
type knownUsers struct {
	mu  sync.RWMutex
	ids map[uuid.UUID]struct{}
	max int
}

func (k *knownUsers) has(id uuid.UUID) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.ids[id]
	return ok
}

func (k *knownUsers) add(id uuid.UUID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ids) >= k.max {
		k.ids = make(map[uuid.UUID]struct{}, k.max)
	}
	k.ids[id] = struct{}{}
}

// authenticate requires a valid bearer token on every request and puts its
// user in the context. A missing or bad token gets HTTP 401 with a GraphQL
// error body and WWW-Authenticate, before gqlgen or SQL run.
func authenticate(v *auth.Verifier, users userEnsurer, log *slog.Logger, next http.Handler) http.Handler {
	known := &knownUsers{ids: map[uuid.UUID]struct{}{}, max: 100_000}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			unauthorized(w, r, `Bearer realm="sets"`, "a bearer token is required (Authorization: Bearer <token>)")
			return
		}
		id, err := v.Verify(token)
		if err != nil {
			log.InfoContext(r.Context(), "token refused", "request_id", reqid.FromContext(r.Context()), "err", err)
			unauthorized(w, r, `Bearer realm="sets", error="invalid_token"`, "the bearer token is invalid or expired")
			return
		}
		if !known.has(id) {
			if err := users.EnsureUser(r.Context(), id); err != nil {
				rid := reqid.FromContext(r.Context())
				if postgres.Unavailable(err) {
					// As graph.ErrorPresenter answers the same failure
					// met by a resolver.
					log.WarnContext(r.Context(), "ensure user: database unavailable", "request_id", rid, "err", err)
					writeGraphQLError(w, graph.UnavailableStatus(w.Header()), string(models.CodeUnavailable),
						models.UnavailableMessage, rid)
					return
				}
				log.ErrorContext(r.Context(), "ensure user", "request_id", rid, "err", err)
				writeGraphQLError(w, http.StatusInternalServerError, string(models.CodeInternal), "internal error", rid)
				return
			}
			known.add(id)
		}
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), id)))
	})
}

// bearer extracts the token of an "Authorization: Bearer <token>" header
// (the scheme is case-insensitive, RFC 7235).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

func unauthorized(w http.ResponseWriter, r *http.Request, challenge, msg string) {
	w.Header().Set("WWW-Authenticate", challenge)
	writeGraphQLError(w, http.StatusUnauthorized, "UNAUTHENTICATED", msg, reqid.FromContext(r.Context()))
}
