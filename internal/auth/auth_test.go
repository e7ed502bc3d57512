package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

const secret = "test-secret-0123456789abcdef0123456789abcdef"

// clock is a settable time source shared by the verifier and its parser.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func sign(t *testing.T, claims jwt.RegisteredClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A remembered token must still expire: the second and later uses take the
// cached path, and that path must refuse what the full check refuses.
func TestVerifiedTokenStillExpires(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	v := newVerifier(secret, c.now)
	user := uuid.New()
	token := sign(t, jwt.RegisteredClaims{
		Subject:   user.String(),
		ExpiresAt: jwt.NewNumericDate(c.t.Add(time.Minute)),
	})
	for i := range 2 { // the second is answered from the cache
		got, err := v.Verify(token)
		if err != nil || got != user {
			t.Fatalf("use %d: got %v, %v; want %v", i+1, got, err, user)
		}
	}
	if v.verified.Len() != 1 {
		t.Fatalf("cache holds %d tokens, want 1", v.verified.Len())
	}
	c.t = c.t.Add(time.Minute + leeway - time.Second)
	if _, err := v.Verify(token); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	c.t = c.t.Add(2 * time.Second)
	if _, err := v.Verify(token); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("after expiry: got %v, want an expired-token error", err)
	}
	if v.verified.Len() != 0 {
		t.Fatal("an expired token stays remembered")
	}
}

func TestVerifiedTokenNotBefore(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	v := newVerifier(secret, c.now)
	user := uuid.New()
	token := sign(t, jwt.RegisteredClaims{
		Subject:   user.String(),
		NotBefore: jwt.NewNumericDate(c.t.Add(time.Hour)),
		ExpiresAt: jwt.NewNumericDate(c.t.Add(2 * time.Hour)),
	})
	if _, err := v.Verify(token); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("before nbf: got %v, want refusal", err)
	}
	c.t = c.t.Add(time.Hour)
	if got, err := v.Verify(token); err != nil || got != user {
		t.Fatalf("after nbf: got %v, %v", got, err)
	}
}

// Only the exact token that verified is remembered: a token with the same
// claims and a forged signature, or signed with another secret, is checked
// in full and refused.
func TestVerifiedCacheDoesNotTrustLookalikes(t *testing.T) {
	now := time.Now()
	v := NewVerifier(secret)
	user := uuid.New()
	claims := jwt.RegisteredClaims{Subject: user.String(), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}
	token := sign(t, claims)
	if _, err := v.Verify(token); err != nil {
		t.Fatal(err)
	}
	head, sig, _ := strings.Cut(token[strings.Index(token, ".")+1:], ".")
	forged := token[:strings.Index(token, ".")+1] + head + "." + strings.Repeat("A", len(sig))
	other, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("another-secret-0123456789abcdef0123456"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"forged signature": forged, "other secret": other, "truncated": token[:len(token)-1]} {
		if _, err := v.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v, want refusal", name, err)
		}
	}
}

func TestVerifyRefusesBadSubjects(t *testing.T) {
	v := NewVerifier(secret)
	exp := jwt.NewNumericDate(time.Now().Add(time.Hour))
	for _, sub := range []string{"", "not-a-uuid", "{" + uuid.NewString() + "}"} {
		token := sign(t, jwt.RegisteredClaims{Subject: sub, ExpiresAt: exp})
		for i := range 2 { // a refused token is never remembered
			if _, err := v.Verify(token); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("sub %q, use %d: got %v, want refusal", sub, i+1, err)
			}
		}
	}
	if v.verified.Len() != 0 {
		t.Fatalf("refused tokens were remembered: %d", v.verified.Len())
	}
}
