package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

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

// authenticator turns a bearer token into a user, creating the user's row
// on first sight: for HTTP requests (authenticate) and subscription
// sockets' connection_init alike.
type authenticator struct {
	verifier *auth.Verifier
	users    userEnsurer
	known    *knownUsers
	log      *slog.Logger
}

func newAuthenticator(v *auth.Verifier, users userEnsurer, log *slog.Logger) *authenticator {
	return &authenticator{verifier: v, users: users, log: log,
		known: &knownUsers{ids: map[uuid.UUID]struct{}{}, max: 100_000}}
}

// errNoToken and errBadToken are what a caller without a valid token is
// told (the cause is logged).
var (
	errNoToken  = models.Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
	errBadToken = models.Unauthenticated("the bearer token is invalid or expired")
)

// user checks an Authorization value and returns its user and the token's
// expiry; a user not seen before gets a row. The errors are errNoToken,
// errBadToken, or the database's (postgres.Unavailable tells them apart).
func (a *authenticator) user(ctx context.Context, authorization string) (uuid.UUID, time.Time, error) {
	token, ok := bearer(authorization)
	if !ok {
		return uuid.Nil, time.Time{}, errNoToken
	}
	id, exp, err := a.verifier.VerifyUntil(token)
	if err != nil {
		a.log.InfoContext(ctx, "token refused", "request_id", reqid.FromContext(ctx), "err", err)
		return uuid.Nil, time.Time{}, errBadToken
	}
	if !a.known.has(id) {
		if err := a.users.EnsureUser(ctx, id); err != nil {
			return uuid.Nil, time.Time{}, fmt.Errorf("ensure user: %w", err)
		}
		a.known.add(id)
	}
	return id, exp, nil
}

// socket authenticates a subscription socket's connection_init.
func (a *authenticator) socket(ctx context.Context, authorization string) (context.Context, time.Time, error) {
	id, exp, err := a.user(ctx, authorization)
	if err != nil {
		if models.ErrorCode(err) != models.CodeUnauthenticated {
			a.log.WarnContext(ctx, "subscription socket: authenticate", "err", err)
		}
		return ctx, time.Time{}, err
	}
	return auth.WithUser(ctx, id), exp, nil
}

// authenticate requires a valid bearer token on every request and puts its
// user in the context. A missing or bad token gets HTTP 401 with a GraphQL
// error body and WWW-Authenticate, before gqlgen or SQL run.
func authenticate(a *authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, err := a.user(r.Context(), r.Header.Get("Authorization"))
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), id)))
		case errors.Is(err, errNoToken):
			unauthorized(w, r, `Bearer realm="sets"`, errNoToken.Message)
		case errors.Is(err, errBadToken):
			unauthorized(w, r, `Bearer realm="sets", error="invalid_token"`, errBadToken.Message)
		case postgres.Unavailable(err):
			// As graph.ErrorPresenter answers the same failure met by a
			// resolver.
			rid := reqid.FromContext(r.Context())
			a.log.WarnContext(r.Context(), "ensure user: database unavailable", "request_id", rid, "err", err)
			writeGraphQLError(w, graph.UnavailableStatus(w.Header()), string(models.CodeUnavailable),
				models.UnavailableMessage, rid)
		default:
			rid := reqid.FromContext(r.Context())
			a.log.ErrorContext(r.Context(), "ensure user", "request_id", rid, "err", err)
			writeGraphQLError(w, http.StatusInternalServerError, string(models.CodeInternal), "internal error", rid)
		}
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
