package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/server"
)

// slowSets makes the next statements that read sets sleep for d, and
// returns a channel closed when the first of them starts.
func (h *harness) slowSets(t *testing.T, d time.Duration) <-chan struct{} {
	started := make(chan struct{})
	var once sync.Once
	h.rec.setBefore(func(_ context.Context, query string) {
		if strings.Contains(query, `FROM "sets"`) || strings.Contains(query, "FROM sets") {
			once.Do(func() { close(started) })
			time.Sleep(d)
		}
	})
	t.Cleanup(func() { h.rec.setBefore(nil) })
	return started
}

// serve runs server.Serve on a fresh port until ctx ends; its result
// arrives on the returned channel.
func (h *harness) serve(t *testing.T, ctx context.Context, drain time.Duration) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	go func() { done <- server.Serve(ctx, ln, h.handler, drain, log) }()
	return ln.Addr().String(), done
}

type result struct {
	status int
	body   string
	err    error
}

// postAsync posts a gallery query to addr in the background.
func postAsync(addr, token string) <-chan result {
	out := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql",
			strings.NewReader(`{"query":"{ sets { nodes { title } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

// TestGracefulShutdown: a request in flight when the server is told to stop
// (SIGTERM cancels the context) completes; new connections are refused;
// Serve returns nil once the request is done.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.mustCreateSet(t, token, map[string]any{"title": "Still here"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, served := h.serve(t, ctx, 10*time.Second)

	started := h.slowSets(t, 700*time.Millisecond)
	inFlight := postAsync(addr, token)
	select {
	case <-started:
	case r := <-inFlight:
		t.Fatalf("the request finished before its slow statement started: %+v", r)
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached the database")
	}
	stopped := time.Now()
	cancel()

	// Once shutdown has begun, new connections are refused.
	deadline := time.Now().Add(2 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Error("the listener still accepts connections during shutdown")
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	r := <-inFlight
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight request: got %+v, want HTTP 200", r)
	}
	var body struct {
		Data struct {
			Sets struct{ Nodes []struct{ Title string } }
		}
		Errors []gqlError
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || len(body.Errors) > 0 ||
		len(body.Data.Sets.Nodes) != 1 || body.Data.Sets.Nodes[0].Title != "Still here" {
		t.Errorf("in-flight request: got %s, want the set", r.body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: got %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last request finished")
	}
	if took := time.Since(stopped); took > 3*time.Second {
		t.Errorf("shutdown took %v", took)
	}
}

// TestShutdownIsBounded: a request slower than the drain time does not
// hold the process: Serve gives up after the drain time with an error.
func TestShutdownIsBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.mustCreateSet(t, token, map[string]any{"title": "Slow"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, served := h.serve(t, ctx, 100*time.Millisecond)

	started := h.slowSets(t, 1500*time.Millisecond)
	inFlight := postAsync(addr, token)
	<-started
	stopped := time.Now()
	cancel()
	select {
	case err := <-served:
		if err == nil {
			t.Error("Serve: got nil, want an error saying the drain timed out")
		}
		if took := time.Since(stopped); took > time.Second {
			t.Errorf("Serve returned after %v, want about the 100ms drain time", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	<-inFlight // let the request finish before the database goes away
}
