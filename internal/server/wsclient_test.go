package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsClient is a graphql-transport-ws client, as the graphql-ws library
// speaks it: connection_init with the token, subscribe, next/error/complete,
// and pong for every ping.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan wsMessage
	// closeErr is what ended the read loop (a websocket.CloseError when the
	// server closed with a code).
	mu       sync.Mutex
	closeErr error
	closedAt time.Time
	done     chan struct{}
	// holding makes the read loop stop reading (a client too slow to
	// read) until the test ends.
	holding atomic.Bool
	held    chan struct{}
}

// hold stops reading from the socket.
func (c *wsClient) hold() { c.holding.Store(true) }

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialWS opens a socket on srvURL's /graphql and sends connection_init with
// the Authorization value auth (none when empty). It does not wait for the
// ack: see ack.
func dialWS(t *testing.T, srvURL, auth string) *wsClient {
	t.Helper()
	c := dialSocket(t, srvURL, "graphql-transport-ws")
	if c.conn.Subprotocol() != "graphql-transport-ws" {
		t.Fatalf("upgrade: subprotocol %q, want graphql-transport-ws", c.conn.Subprotocol())
	}
	payload := map[string]any{}
	if auth != "" {
		payload["Authorization"] = auth
	}
	c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(mustJSON(t, payload))})
	return c
}

// dialSocket opens a socket on srvURL's /graphql offering subprotocols,
// and sends nothing.
func dialSocket(t *testing.T, srvURL string, subprotocols ...string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(srvURL, "http") + "/graphql"
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: subprotocols})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: HTTP %d", resp.StatusCode)
	}
	conn.SetReadLimit(16 << 20)
	c := &wsClient{t: t, conn: conn, msgs: make(chan wsMessage, 10_000), done: make(chan struct{}), held: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() { close(c.held); conn.CloseNow() })
	return c
}

func (c *wsClient) readLoop() {
	defer close(c.done)
	for {
		if c.holding.Load() {
			<-c.held
		}
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.closeErr, c.closedAt = err, time.Now()
			c.mu.Unlock()
			close(c.msgs)
			return
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			continue
		}
		if m.Type == "ping" {
			_ = c.write(wsMessage{Type: "pong"})
			continue
		}
		c.msgs <- m
	}
}

func (c *wsClient) write(m wsMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	if err := c.write(m); err != nil {
		c.t.Fatalf("send %s: %v", m.Type, err)
	}
}

// next returns the next message, failing the test after wait.
func (c *wsClient) next(wait time.Duration) wsMessage {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("socket closed while waiting for a message: %v", c.err())
		}
		return m
	case <-time.After(wait):
		c.t.Fatalf("no message within %s", wait)
	}
	return wsMessage{}
}

func (c *wsClient) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// ack waits for connection_ack.
func (c *wsClient) ack() {
	c.t.Helper()
	if m := c.next(10 * time.Second); m.Type != "connection_ack" {
		c.t.Fatalf("got %s %s, want connection_ack", m.Type, m.Payload)
	}
}

// subscribe starts operation id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	c.send(wsMessage{ID: id, Type: "subscribe", Payload: json.RawMessage(mustJSON(c.t, map[string]any{"query": query, "variables": vars}))})
}

// closeStatus waits until the server closes the socket and returns the
// close code (-1 for a connection dropped without one).
func (c *wsClient) closeStatus(wait time.Duration) websocket.StatusCode {
	c.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case _, ok := <-c.msgs:
			if ok {
				continue // what was sent before the close
			}
			return websocket.CloseStatus(c.err())
		case <-deadline:
			c.t.Fatalf("socket still open after %s", wait)
		}
	}
}

// change is a CollectionChange as the tests select it.
type change struct {
	Cursor   string `json:"cursor"`
	Kind     string `json:"kind"`
	EntityID string `json:"entityId"`
	Set      *struct {
		ID     string `json:"id"`
		Title  string `json:"title"`
		Images []struct {
			ImageURL string `json:"imageUrl"`
		} `json:"images"`
	} `json:"set"`
	WishlistItem *struct {
		Title string `json:"title"`
	} `json:"wishlistItem"`
}

const subscriptionQuery = `subscription($after: String) { collectionChanged(after: $after) {
	cursor kind entityId at set { id title images { imageUrl } } wishlistItem { title } } }`

// nextChange returns the next change of subscription id.
func (c *wsClient) nextChange(id string, wait time.Duration) (change, error) {
	c.t.Helper()
	m := c.next(wait)
	if m.ID != id || m.Type != "next" {
		return change{}, fmt.Errorf("got %s %s for %q, want next for %q", m.Type, m.Payload, m.ID, id)
	}
	var p struct {
		Data   struct{ CollectionChanged change } `json:"data"`
		Errors []gqlError                         `json:"errors"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return change{}, err
	}
	if len(p.Errors) > 0 {
		return change{}, errors.New(string(m.Payload))
	}
	return p.Data.CollectionChanged, nil
}
