// Package auth turns a bearer token into the calling user and back: it
// verifies HS256 JWTs, mints them for local use, and carries the user id in
// the request context.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
)

// ErrInvalidToken is returned for every token that cannot be trusted. The
// library's own error text (which says why) goes to the log, never to the
// caller.
var ErrInvalidToken = errors.New("invalid bearer token")

// Verifier checks tokens signed with one shared secret.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
	now    func() time.Time
	// verified remembers tokens that passed, so that a client's next
	// requests with the same token skip decoding its JSON claims and the
	// HMAC: that was a tenth of the server's CPU on a one-set query. Only
	// the exact token string is a hit, and its validity window is checked
	// again on every hit.
	verified *lru.Cache[string, verifiedToken]
}

// verifiedToken is what a verified token says: who, and when it is valid
// (leeway included).
type verifiedToken struct {
	user      uuid.UUID
	notBefore time.Time // zero when the token has no nbf
	expires   time.Time
	// exp is the token's own expiry, without the leeway.
	exp time.Time
}

// leeway is the clock skew allowed between the issuer and this server.
const leeway = 30 * time.Second

// verifiedCacheSize bounds the remembered tokens (about 100 bytes each
// plus the token); a token that falls out is verified again in full.
const verifiedCacheSize = 10_000

// NewVerifier returns a Verifier that accepts only HS256 tokens signed with
// secret that carry an expiry.
func NewVerifier(secret string) *Verifier {
	return newVerifier(secret, time.Now)
}

func newVerifier(secret string, now func() time.Time) *Verifier {
	cache, err := lru.New[string, verifiedToken](verifiedCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Verifier{
		secret: []byte(secret),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
		),
		now:      now,
		verified: cache,
	}
}

// Verify returns the user id in the token's sub claim. Every failure wraps
// ErrInvalidToken; the wrapped cause is for logs.
func (v *Verifier) Verify(token string) (uuid.UUID, error) {
	id, _, err := v.VerifyUntil(token)
	return id, err
}

// VerifyUntil is Verify that also returns the token's expiry (its exp
// claim), for connections that outlive a request: a subscription's socket
// is closed then.
func (v *Verifier) VerifyUntil(token string) (uuid.UUID, time.Time, error) {
	if t, ok := v.verified.Get(token); ok {
		now := v.now()
		if now.Before(t.expires) && (t.notBefore.IsZero() || !now.Before(t.notBefore)) {
			return t.user, t.exp, nil
		}
		// Out of its window: the full check below says why.
		v.verified.Remove(token)
	}
	var claims jwt.RegisteredClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) {
		return v.secret, nil
	})
	if err != nil {
		return uuid.Nil, time.Time{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	id, err := parseUUID(claims.Subject)
	if err != nil {
		return uuid.Nil, time.Time{}, fmt.Errorf("%w: sub %q is not a UUID", ErrInvalidToken, claims.Subject)
	}
	t := verifiedToken{user: id, expires: claims.ExpiresAt.Add(leeway), exp: claims.ExpiresAt.Time}
	if claims.NotBefore != nil {
		t.notBefore = claims.NotBefore.Add(-leeway)
	}
	v.verified.Add(token, t)
	return id, t.exp, nil
}

// parseUUID accepts only the canonical 36-character form: uuid.Parse would
// also take braces and urn: prefixes, which no issuer of ours sends.
func parseUUID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, errors.New("not canonical")
	}
	return uuid.Parse(s)
}

// Mint returns an HS256 token for user that expires after ttl.
func Mint(secret string, user uuid.UUID, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   user.String(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

type userKey struct{}

// WithUser returns a context that carries the authenticated user's id.
func WithUser(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, userKey{}, id)
}

// UserFromContext returns the authenticated user's id, if any.
func UserFromContext(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(userKey{}).(uuid.UUID)
	return id, ok
}
