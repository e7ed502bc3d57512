//go:build e2e

package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/auth"
)

// target is the server under test: its GraphQL endpoint and the secret
// it verifies tokens with.
type target struct {
	url, secret string
	http        *http.Client
}

// mustTarget reads API_URL and AUTH_JWT_SECRET. Without them the tests
// fail and say what to set: they never pass having tested nothing.
func mustTarget(tb testing.TB) *target {
	tb.Helper()
	url, secret := os.Getenv("API_URL"), os.Getenv("AUTH_JWT_SECRET")
	if url == "" || secret == "" {
		tb.Fatal("set API_URL (the server's /graphql endpoint) and AUTH_JWT_SECRET (its token secret); " +
			"deploy/local/up prints the first and keeps the second in $DEPLOY_DIR/jwt-secret")
	}
	return &target{url: url, secret: secret, http: &http.Client{Timeout: 30 * time.Second}}
}

// newUser returns a token for a user the server has never seen: every
// test starts with an empty collection.
func (tg *target) newUser(tb testing.TB) string {
	tb.Helper()
	tok, err := auth.Mint(tg.secret, uuid.New(), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string
	Extensions struct {
		Code  string
		Field string
	}
}

// response is what one request got: its HTTP status, the instance that
// answered (HAProxy's X-Sets-Instance header; empty without it) and the
// GraphQL errors.
type response struct {
	status   int
	instance string
	header   http.Header
	errors   []gqlError
}

// do posts query with vars as the holder of token and decodes the data
// into dst (when not nil).
func (tg *target) do(tb testing.TB, token, query string, vars map[string]any, dst any) response {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, tg.url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := tg.http.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", tg.url, err)
	}
	defer res.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		tb.Fatalf("HTTP %d: undecodable body: %v", res.StatusCode, err)
	}
	if dst != nil && len(out.Data) > 0 && string(out.Data) != "null" {
		if err := json.Unmarshal(out.Data, dst); err != nil {
			tb.Fatalf("decode data %s: %v", out.Data, err)
		}
	}
	return response{status: res.StatusCode, instance: res.Header.Get("X-Sets-Instance"), header: res.Header,
		errors: out.Errors}
}

// mustDo is do that fails the test on any error.
func (tg *target) mustDo(tb testing.TB, token, query string, vars map[string]any, dst any) response {
	tb.Helper()
	r := tg.do(tb, token, query, vars, dst)
	if r.status != http.StatusOK || len(r.errors) > 0 {
		tb.Fatalf("HTTP %d, errors %+v, want 200 and none\nquery: %s", r.status, r.errors, query)
	}
	return r
}

const createSet = `mutation($in: CreateSetInput!) { createSet(input: $in) { set { id title theme } } }`

// mustCreateSet creates a set from input and returns its id.
func (tg *target) mustCreateSet(tb testing.TB, token string, input map[string]any) string {
	tb.Helper()
	var d struct {
		CreateSet struct{ Set struct{ ID string } }
	}
	tg.mustDo(tb, token, createSet, map[string]any{"in": input}, &d)
	if d.CreateSet.Set.ID == "" {
		tb.Fatal("createSet answered no id")
	}
	return d.CreateSet.Set.ID
}

// socket is one graphql-transport-ws connection.
type socket struct {
	conn *websocket.Conn
}

// mustSubscribe opens a socket to the endpoint (ws:// for http://),
// authenticates it in connection_init as the protocol says, and starts
// subscription id "1" with query and vars.
func (tg *target) mustSubscribe(tb testing.TB, ctx context.Context, token, query string, vars map[string]any) *socket {
	tb.Helper()
	wsURL := "ws" + strings.TrimPrefix(tg.url, "http")
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		tb.Fatalf("dial %s: %v", wsURL, err)
	}
	tb.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	s := &socket{conn: conn}
	s.mustSend(tb, ctx, map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + token}})
	if m := s.mustRead(tb, ctx); m.Type != "connection_ack" {
		tb.Fatalf("after connection_init: %+v, want connection_ack", m)
	}
	s.mustSend(tb, ctx, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	return s
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func (s *socket) mustSend(tb testing.TB, ctx context.Context, v any) {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.conn.Write(ctx, websocket.MessageText, b); err != nil {
		tb.Fatalf("write %s: %v", b, err)
	}
}

// mustRead returns the next message that is not a ping, answering pings
// as the protocol asks.
func (s *socket) mustRead(tb testing.TB, ctx context.Context) wsMessage {
	tb.Helper()
	for {
		_, b, err := s.conn.Read(ctx)
		if err != nil {
			tb.Fatalf("read: %v", err)
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			tb.Fatalf("undecodable message %s: %v", b, err)
		}
		if m.Type == "ping" {
			s.mustSend(tb, ctx, map[string]string{"type": "pong"})
			continue
		}
		return m
	}
}

// distinct is how many different non-empty strings xs holds.
func distinct(xs []string) int {
	seen := map[string]bool{}
	for _, x := range xs {
		if x != "" {
			seen[x] = true
		}
	}
	return len(seen)
}

func describe(v any) string {
	b, _ := json.Marshal(v)
	return fmt.Sprintf("%s", b)
}
