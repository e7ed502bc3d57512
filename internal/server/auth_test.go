package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// sign returns a token with claims signed by method with key.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	secret := []byte(h.cfg.JWTSecret)
	user := uuid.NewString()
	hour := time.Now().Add(time.Hour).Unix()
	valid := jwt.MapClaims{"sub": user, "exp": hour}

	for _, tc := range []struct {
		name   string
		header string // the whole Authorization header; "" sends none
	}{
		{"missing header", ""},
		{"empty bearer", "Bearer "},
		{"other scheme", "Basic dXNlcjpwYXNz"},
		{"token without scheme", sign(t, jwt.SigningMethodHS256, secret, valid)},
		{"malformed", "Bearer not.a.jwt"},
		{"garbage", "Bearer " + strings.Repeat("x", 500)},
		{"alg none", "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)},
		{"HS512", "Bearer " + sign(t, jwt.SigningMethodHS512, secret, valid)},
		{"wrong secret", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("not the secret"), valid)},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": user, "exp": time.Now().Add(-time.Hour).Unix()})},
		{"missing exp", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": user})},
		{"not yet valid", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": user, "exp": hour, "nbf": hour - 60})},
		{"missing sub", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": hour})},
		{"sub not a UUID", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": hour})},
		{"sub UUID in braces", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "{" + user + "}", "exp": hour})},
		{"sub a number", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": 42, "exp": hour})},
		{"tampered payload", "Bearer " + tamper(sign(t, jwt.SigningMethodHS256, secret, valid))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.rec.take()
			for _, method := range []string{http.MethodPost, http.MethodGet} {
				var req *http.Request
				if method == http.MethodPost {
					req, _ = http.NewRequest(method, h.srv.URL+"/graphql", bytes.NewReader([]byte(`{"query":"{ me { id } }"}`)))
					req.Header.Set("Content-Type", "application/json")
				} else {
					req, _ = http.NewRequest(method, h.srv.URL+"/graphql?query=%7B+me+%7B+id+%7D+%7D", nil)
				}
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				r := h.send(t, req)
				if r.Status != http.StatusUnauthorized {
					t.Errorf("%s: got %s, want HTTP 401", method, r)
				}
				mustFail(t, r, "UNAUTHENTICATED", "")
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("%s: WWW-Authenticate: got %q, want a Bearer challenge", method, got)
				}
				if r.Data != nil && string(r.Data) != "null" {
					t.Errorf("%s: got data %s, want none", method, r.Data)
				}
			}
			if got := h.rec.take(); len(got) > 0 {
				t.Errorf("ran SQL for a refused token: %q", got)
			}
		})
	}
	if n := h.count(t, "users"); n != 0 {
		t.Errorf("users: got %d rows, want 0 (no refused token creates one)", n)
	}

	t.Run("valid token, any case of the scheme", func(t *testing.T) {
		for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", scheme+" "+sign(t, jwt.SigningMethodHS256, secret, valid))
			r := h.send(t, req)
			mustOK(t, r, nil)
			if want := `{"me":{"id":"` + user + `"}}`; string(r.Data) != want {
				t.Errorf("%s: got %s, want %s", scheme, r.Data, want)
			}
		}
	})
}

// tamper changes the token's payload (the subject) and keeps its signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	claims := jwt.MapClaims{"sub": uuid.NewString(), "exp": time.Now().Add(time.Hour).Unix()}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SigningString()
	return strings.Join(append(strings.Split(forged, ".")[:2], parts[2]), ".")
}
