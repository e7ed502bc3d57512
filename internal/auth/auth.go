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
)

// ErrInvalidToken is returned for every token that cannot be trusted. The
// library's own error text (which says why) goes to the log, never to the
// caller.
var ErrInvalidToken = errors.New("invalid bearer token")

// Verifier checks tokens signed with one shared secret.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// NewVerifier returns a Verifier that accepts only HS256 tokens signed with
// secret that carry an expiry.
func NewVerifier(secret string) *Verifier {
	return &Verifier{
		secret: []byte(secret),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(30*time.Second),
		),
	}
}

// Verify returns the user id in the token's sub claim. Every failure wraps
// ErrInvalidToken; the wrapped cause is for logs.
func (v *Verifier) Verify(token string) (uuid.UUID, error) {
	var claims jwt.RegisteredClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) {
		return v.secret, nil
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	id, err := parseUUID(claims.Subject)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: sub %q is not a UUID", ErrInvalidToken, claims.Subject)
	}
	return id, nil
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
