package server_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/brickgallery/sets/internal/config"
)

// graphql-transport-ws as the graphql-ws library's client expects it:
// pings answered, queries and mutations answered once then completed,
// validation errors as an error message, the protocol's close codes for a
// client that breaks its rules, and a client's complete ending its
// subscription.
func TestLiveProtocol(t *testing.T) {
	t.Parallel()
	h := newHarnessEnv(t, map[string]string{"APP_ENV": config.EnvDevelopment})
	waitListening(t, h)
	user, tok := h.newUser(t)
	h.warm(t, tok)
	set := h.mustCreateSet(t, tok, map[string]any{"title": "Millennium Falcon"})

	t.Run("ping is answered with pong", func(t *testing.T) {
		c := dialWS(t, h.srv.URL, "Bearer "+tok)
		c.ack()
		c.send(wsMessage{Type: "ping"})
		if m := c.next(10 * time.Second); m.Type != "pong" {
			t.Fatalf("after a ping: %s %s, want pong", m.Type, m.Payload)
		}
	})

	t.Run("a query runs once, with its photos loaded, then completes", func(t *testing.T) {
		c := dialWS(t, h.srv.URL, "Bearer "+tok)
		c.ack()
		c.subscribe("q", `query($id: UUID!) { set(id: $id) { title images { imageUrl } } me { id } }`, map[string]any{"id": set.ID})
		m := c.next(10 * time.Second)
		var p struct {
			Data struct {
				Set struct {
					Title  string
					Images []struct{ ImageURL string }
				}
				Me struct{ ID string }
			}
			Errors []gqlError
		}
		if err := json.Unmarshal(m.Payload, &p); m.Type != "next" || m.ID != "q" || err != nil || len(p.Errors) > 0 {
			t.Fatalf("query over the socket: %s %s %s (%v), want its data", m.ID, m.Type, m.Payload, err)
		}
		if p.Data.Set.Title != "Millennium Falcon" || p.Data.Set.Images == nil || p.Data.Me.ID != user.String() {
			t.Fatalf("query over the socket answered %s", m.Payload)
		}
		if m = c.next(10 * time.Second); m.Type != "complete" || m.ID != "q" {
			t.Fatalf("after the answer: %s %s, want complete for q", m.Type, m.ID)
		}
	})

	t.Run("a document that does not validate is an error message", func(t *testing.T) {
		c := dialWS(t, h.srv.URL, "Bearer "+tok)
		c.ack()
		c.subscribe("v", `subscription { collectionChanged { nope } }`, nil)
		m := c.next(10 * time.Second)
		if m.Type != "error" || m.ID != "v" || !strings.Contains(string(m.Payload), "nope") {
			t.Fatalf("an invalid document: %s %s %s, want an error naming the field", m.ID, m.Type, m.Payload)
		}
		// The socket stays usable.
		c.subscribe("ok", subscriptionQuery, nil)
		waitSubscriptions(t, h, 1)
		c.send(wsMessage{ID: "ok", Type: "complete"})
		waitSubscriptions(t, h, 0)
	})

	t.Run("complete from the client ends the subscription, nothing follows", func(t *testing.T) {
		c := dialWS(t, h.srv.URL, "Bearer "+tok)
		c.ack()
		c.subscribe("1", subscriptionQuery, nil)
		waitSubscriptions(t, h, 1)
		c.send(wsMessage{ID: "1", Type: "complete"})
		waitSubscriptions(t, h, 0)
		h.mustCreateSet(t, tok, map[string]any{"title": "after complete"})
		select {
		case m := <-c.msgs:
			t.Fatalf("after complete: %s %s %s, want nothing", m.ID, m.Type, m.Payload)
		case <-time.After(500 * time.Millisecond):
		}
	})

	closes := []struct {
		name string
		code websocket.StatusCode
		run  func(t *testing.T) *wsClient
	}{
		{"subscribe before connection_init", 4401, func(t *testing.T) *wsClient {
			c := dialSocket(t, h.srv.URL, "graphql-transport-ws")
			c.subscribe("1", subscriptionQuery, nil)
			return c
		}},
		{"a second connection_init", 4429, func(t *testing.T) *wsClient {
			c := dialWS(t, h.srv.URL, "Bearer "+tok)
			c.ack()
			c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{"Authorization":"Bearer ` + tok + `"}`)})
			return c
		}},
		{"an id already subscribed", 4409, func(t *testing.T) *wsClient {
			c := dialWS(t, h.srv.URL, "Bearer "+tok)
			c.ack()
			c.subscribe("1", subscriptionQuery, nil)
			c.subscribe("1", subscriptionQuery, nil)
			return c
		}},
		{"a message that is not JSON", 4400, func(t *testing.T) *wsClient {
			c := dialWS(t, h.srv.URL, "Bearer "+tok)
			c.ack()
			if err := c.conn.Write(t.Context(), websocket.MessageText, []byte("{not json")); err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"an unknown message type", 4400, func(t *testing.T) *wsClient {
			c := dialWS(t, h.srv.URL, "Bearer "+tok)
			c.ack()
			c.send(wsMessage{Type: "start", ID: "1"})
			return c
		}},
		{"the older graphql-ws subprotocol", 4406, func(t *testing.T) *wsClient {
			return dialSocket(t, h.srv.URL, "graphql-ws")
		}},
	}
	for _, tc := range closes {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.run(t)
			if code := c.closeStatus(10 * time.Second); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
		})
	}
}

// An idle subscription holds no goroutine of its own, and an idle socket
// one (its reader): that is what keeps 5,000 idle subscriptions within
// SPEC §11's 200 MB (bench/live.sh measures the memory itself). gqlgen's
// transport held four per socket and one per subscription.
func TestIdleSubscriptionsHoldNoGoroutines(t *testing.T) {
	h := newHarnessEnv(t, map[string]string{"APP_ENV": config.EnvDevelopment})
	waitListening(t, h)
	_, tok := h.newUser(t)
	h.warm(t, tok)
	before := settledGoroutines()
	const sockets, each = 20, 2
	for range sockets {
		c := dialWS(t, h.srv.URL, "Bearer "+tok)
		c.ack()
		for _, id := range []string{"a", "b"} {
			c.subscribe(id, subscriptionQuery, nil)
		}
	}
	waitSubscriptions(t, h, sockets*each)
	// Each socket: the server's reader, and this test client's reader.
	added := settledGoroutines() - before
	if want := sockets*2 + 5; added > want {
		t.Fatalf("%d idle sockets with %d subscriptions each added %d goroutines, want at most %d (two per socket, both ends)",
			sockets, each, added, want)
	}
}

// settledGoroutines counts goroutines once the count has stopped moving
// (writers finishing their last message, timers firing).
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// The server pings every LIVE_PING_INTERVAL: a client that answers stays
// connected, one that has gone silent is cut off by the next ping, and
// its subscription leaves the hub.
func TestLivePingsCutOffSilentSockets(t *testing.T) {
	t.Parallel()
	h := newHarnessEnv(t, map[string]string{"APP_ENV": config.EnvDevelopment, "LIVE_PING_INTERVAL": "1s"})
	waitListening(t, h)
	_, tok := h.newUser(t)
	h.warm(t, tok)
	alive := dialWS(t, h.srv.URL, "Bearer "+tok) // answers every ping
	alive.ack()
	alive.subscribe("1", subscriptionQuery, nil)
	silent := dialWS(t, h.srv.URL, "Bearer "+tok)
	silent.ack()
	silent.subscribe("1", subscriptionQuery, nil)
	waitSubscriptions(t, h, 2)
	silent.hold() // reads nothing more, so answers no ping
	start := time.Now()
	waitSubscriptions(t, h, 1)
	// The client's read in progress when it stopped may answer one more
	// ping; the one after goes unanswered, and the next tick cuts it off.
	t.Logf("the silent socket was cut off after %s", time.Since(start).Round(time.Millisecond))
	time.Sleep(2500 * time.Millisecond) // more pings, all answered
	if got := h.metric(t, "sets_live_sockets"); got != 1 {
		t.Errorf("sets_live_sockets = %v, want 1: the client that answers pings stays", got)
	}
	h.mustCreateSet(t, tok, map[string]any{"title": "still here"})
	if _, err := alive.nextChange("1", 10*time.Second); err != nil {
		t.Fatalf("the answering client after the pings: %v", err)
	}
}

// LIVE_MAX_SUBSCRIPTIONS bounds the instance, whoever subscribes.
func TestLiveInstanceLimit(t *testing.T) {
	t.Parallel()
	h := newHarnessEnv(t, map[string]string{"APP_ENV": config.EnvDevelopment, "LIVE_MAX_SUBSCRIPTIONS": "2"})
	waitListening(t, h)
	for range 2 {
		_, tok := h.newUser(t)
		h.subscribe(t, tok, nil)
	}
	waitSubscriptions(t, h, 2)
	_, tok := h.newUser(t)
	c := h.subscribe(t, tok, nil)
	if m := c.next(10 * time.Second); !isError(m, "TOO_MANY_SUBSCRIPTIONS") {
		t.Fatalf("a third subscription on an instance that holds 2: %s %s, want TOO_MANY_SUBSCRIPTIONS", m.Type, m.Payload)
	}
}
