package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/internal/testdb"
)

// waitListening waits until h's listener has connected (at start, or again
// after a lost connection).
func waitListening(t *testing.T, h *harness) {
	t.Helper()
	select {
	case <-h.listening:
	case <-time.After(10 * time.Second):
		t.Fatal("the live-updates listener did not connect within 10 s")
	}
}

// twoInstances returns two API servers over one database, as two
// instances behind a balancer, both listening.
func twoInstances(t *testing.T, env map[string]string) (a, b *harness) {
	t.Helper()
	if env == nil {
		env = map[string]string{"APP_ENV": config.EnvDevelopment}
	}
	url := testdb.URL(t)
	a, b = newHarnessAt(t, env, url), newHarnessAt(t, env, url)
	waitListening(t, a)
	waitListening(t, b)
	return a, b
}

func (h *harness) subscribe(t *testing.T, token string, after *string) *wsClient {
	t.Helper()
	c := dialWS(t, h.srv.URL, "Bearer "+token)
	c.ack()
	vars := map[string]any{}
	if after != nil {
		vars["after"] = *after
	}
	c.subscribe("1", subscriptionQuery, vars)
	return c
}

func (h *harness) changesCursor(t *testing.T, token string) string {
	t.Helper()
	var d struct{ ChangesCursor string }
	mustOK(t, h.do(t, token, `{ changesCursor }`, nil), &d)
	return d.ChangesCursor
}

// Every kind of change made through one instance, and a DELETE typed in
// SQL, reaches a subscriber on the other, in commit order, with the set or
// item as it is now; another user's changes do not.
func TestLiveChangesReachEveryInstance(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t, nil)
	_, tok := a.newUser(t)
	_, otherTok := a.newUser(t)
	a.warm(t, tok)
	sub := b.subscribe(t, tok, ptr(a.changesCursor(t, tok)))

	set := a.mustCreateSet(t, tok, map[string]any{"title": "Millennium Falcon", "images": []map[string]any{{"imageUrl": "https://img.example/1.jpg"}}})
	a.mustCreateSet(t, otherTok, map[string]any{"title": "not mine"})
	mustOK(t, a.do(t, tok, `mutation($id: UUID!) { updateSet(id: $id, input: {title: "Falcon"}) { id } }`, map[string]any{"id": set.ID}), nil)
	mustOK(t, a.do(t, tok, `mutation($id: UUID!) { addSetImage(setId: $id, input: {imageUrl: "https://img.example/2.jpg"}) { id } }`, map[string]any{"id": set.ID}), nil)
	item := a.mustAddWishlistItem(t, tok, map[string]any{"title": "Death Star"})
	mustOK(t, a.do(t, tok, `mutation($id: UUID!) { deleteWishlistItem(id: $id) { deletedId } }`, map[string]any{"id": item}), nil)
	a.mustExec(t, `DELETE FROM sets WHERE id = ?`, set.ID)

	want := []struct{ kind, entity, title string }{
		{"SET_CHANGED", set.ID, "Falcon"}, // the set as it is when delivered
		{"SET_CHANGED", set.ID, ""},
		{"SET_CHANGED", set.ID, ""},
		{"WISHLIST_ITEM_CHANGED", item, ""},
		{"WISHLIST_ITEM_DELETED", item, ""},
		{"SET_DELETED", set.ID, ""},
	}
	for i, w := range want {
		c, err := sub.nextChange("1", 10*time.Second)
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		if c.Kind != w.kind || c.EntityID != w.entity {
			t.Fatalf("change %d = %s %s, want %s %s", i, c.Kind, c.EntityID, w.kind, w.entity)
		}
		if w.kind == "SET_DELETED" && c.Set != nil {
			t.Errorf("SET_DELETED carries set %+v, want null", c.Set)
		}
	}
	// Nothing more: the other user's set is not here.
	select {
	case m := <-sub.msgs:
		t.Fatalf("unexpected message %s %s", m.Type, m.Payload)
	case <-time.After(300 * time.Millisecond):
	}
}

// A change carries the set as it is now, images included, read with
// loaders of its own: the socket's first change must not serve the later
// ones stale images.
func TestLiveChangeCarriesTheSetNow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	waitListening(t, h)
	_, tok := h.newUser(t)
	h.warm(t, tok)
	sub := h.subscribe(t, tok, nil)
	waitSubscriptions(t, h, 1) // subscribed before the writes
	set := h.mustCreateSet(t, tok, map[string]any{"title": "Castle"})
	c, err := sub.nextChange("1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.Set == nil || c.Set.Title != "Castle" || len(c.Set.Images) != 0 {
		t.Fatalf("first change's set = %+v, want Castle with no images", c.Set)
	}
	mustOK(t, h.do(t, tok, `mutation($id: UUID!) { addSetImage(setId: $id, input: {imageUrl: "https://img.example/c.jpg"}) { id } }`,
		map[string]any{"id": set.ID}), nil)
	c, err = sub.nextChange("1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.Set == nil || len(c.Set.Images) != 1 || c.Set.Images[0].ImageURL != "https://img.example/c.jpg" {
		t.Fatalf("second change's set = %+v, want its one image", c.Set)
	}
}

// No gap, no repeat: writers on two instances, a subscriber killed mid-way
// and resumed with its last cursor on the other instance, and that
// instance's listener connection cut meanwhile. Every position from the
// first cursor on is received exactly once, in order, and what was
// received is the log.
func TestLiveResumeHasNoGapAndNoRepeat(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t, nil)
	user, tok := a.newUser(t)
	a.warm(t, tok)
	start := a.changesCursor(t, tok)

	const writers, each = 4, 40
	var wg sync.WaitGroup
	for w := range writers {
		h := []*harness{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := h.do(t, tok, `mutation($in: CreateSetInput!) { createSet(input: $in) { set { id } } }`,
					map[string]any{"in": map[string]any{"title": fmt.Sprintf("w%d-%d", w, i)}})
				if len(r.Errors) > 0 {
					t.Errorf("createSet: %s", r)
					return
				}
			}
		}()
	}

	var got []change
	receive := func(sub *wsClient, n int) {
		t.Helper()
		for range n {
			c, err := sub.nextChange("1", 15*time.Second)
			if err != nil {
				t.Fatalf("after %d changes: %v", len(got), err)
			}
			got = append(got, c)
		}
	}
	first := a.subscribe(t, tok, &start)
	receive(first, 30)
	first.conn.CloseNow() // killed: no goodbye

	// The listener of b loses its connection while writes go on; b's
	// subscriber must still get everything.
	a.mustExec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'sets-live-listener' AND datname = current_database()`)
	second := b.subscribe(t, tok, &got[len(got)-1].Cursor)
	receive(second, 50)
	second.conn.CloseNow()
	third := b.subscribe(t, tok, &got[len(got)-1].Cursor)
	wg.Wait()
	receive(third, writers*each-len(got))

	// Exactly the log, in its order.
	var log []struct {
		Position int64
		EntityID uuid.UUID
	}
	if err := a.check.NewRaw(`SELECT position, entity_id FROM changes WHERE user_id = ? ORDER BY position`, user).
		Scan(context.Background(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log) != writers*each {
		t.Fatalf("the log holds %d changes, want %d", len(log), writers*each)
	}
	for i, c := range got {
		if c.EntityID != log[i].EntityID.String() {
			t.Fatalf("change %d is %s, the log's %d is %s (a gap, a repeat or the wrong order)", i, c.EntityID, log[i].Position, log[i].EntityID)
		}
	}
	select {
	case m := <-third.msgs:
		t.Fatalf("a change past the log's end: %s %s", m.Type, m.Payload)
	case <-time.After(300 * time.Millisecond):
	}
}

// The token travels in connection_init: none, or a bad one, closes with
// 4401; a good one closes with 4401 when it expires.
func TestLiveSocketAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for name, authz := range map[string]string{"missing": "", "bad": "Bearer not-a-token", "not bearer": "Basic dXNlcjpwdw=="} {
		c := dialWS(t, h.srv.URL, authz)
		if code := c.closeStatus(10 * time.Second); code != 4401 {
			t.Errorf("%s token: close code %d, want 4401", name, code)
		}
	}
	tok, err := auth.Mint(h.cfg.JWTSecret, uuid.New(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c := h.subscribe(t, tok, nil)
	if code := c.closeStatus(10 * time.Second); code != 4401 {
		t.Fatalf("at expiry: close code %d, want 4401", code)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("closed %s after a 2 s token was issued, want at its expiry", took)
	}
}

// changesCursor and changes read the same log as the subscription;
// cursors are checked, and one the log no longer reaches is
// CURSOR_EXPIRED, for changes and the subscription alike.
func TestChangesPollingAndExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	waitListening(t, h)
	_, tok := h.newUser(t)
	_, otherTok := h.newUser(t)
	h.warm(t, tok)
	start := h.changesCursor(t, tok)
	var ids []string
	for i := range 5 {
		ids = append(ids, h.mustCreateSet(t, tok, map[string]any{"title": fmt.Sprint("s", i)}).ID)
	}
	type page struct {
		Changes struct {
			Nodes       []change
			EndCursor   string
			HasNextPage bool
		}
	}
	q := `query($after: String!, $first: Int) { changes(after: $after, first: $first) {
		nodes { cursor kind entityId set { title } } endCursor hasNextPage } }`
	p1 := mustOKData[page](t, h, tok, q, map[string]any{"after": start, "first": 3})
	if len(p1.Changes.Nodes) != 3 || !p1.Changes.HasNextPage || p1.Changes.Nodes[0].EntityID != ids[0] {
		t.Fatalf("first page = %+v, want ids[0..2] and more", p1.Changes)
	}
	p2 := mustOKData[page](t, h, tok, q, map[string]any{"after": p1.Changes.EndCursor})
	if len(p2.Changes.Nodes) != 2 || p2.Changes.HasNextPage || p2.Changes.Nodes[1].EntityID != ids[4] ||
		p2.Changes.EndCursor != h.changesCursor(t, tok) {
		t.Fatalf("second page = %+v, want ids[3..4], ending at changesCursor", p2.Changes)
	}
	p3 := mustOKData[page](t, h, tok, q, map[string]any{"after": p2.Changes.EndCursor})
	if len(p3.Changes.Nodes) != 0 || p3.Changes.EndCursor != p2.Changes.EndCursor {
		t.Fatalf("page after the end = %+v, want empty at the same cursor", p3.Changes)
	}

	mustFail(t, h.do(t, otherTok, q, map[string]any{"after": start}), "BAD_USER_INPUT", "after")
	mustFail(t, h.do(t, tok, q, map[string]any{"after": "nonsense"}), "BAD_USER_INPUT", "after")
	mustFail(t, h.do(t, tok, q, map[string]any{"after": start, "first": 501}), "BAD_USER_INPUT", "first")

	// Age everything and prune as the server does, keeping only the last
	// two: the start cursor is now out of reach.
	h.mustExec(t, `UPDATE changes SET at = at - interval '31 days'`)
	if _, err := store.New(h.check, store.Options{}).PruneChanges(context.Background(), 30*24*time.Hour, 2, 100); err != nil {
		t.Fatal(err)
	}
	mustFail(t, h.do(t, tok, q, map[string]any{"after": start}), "CURSOR_EXPIRED", "after")
	mustOKData[page](t, h, tok, q, map[string]any{"after": p1.Changes.EndCursor}) // 3: the 4th is kept

	c := dialWS(t, h.srv.URL, "Bearer "+tok)
	c.ack()
	c.subscribe("1", subscriptionQuery, map[string]any{"after": start})
	if m := c.next(10 * time.Second); !isError(m, "CURSOR_EXPIRED") {
		t.Fatalf("subscribing from an expired cursor: %s %s, want an error CURSOR_EXPIRED", m.Type, m.Payload)
	}
}

// isError reports whether m is a subscription's error with code: gqlgen
// sends a resolver's error as a next message with errors (graphql-ws's
// clients hand both to the sink's error callback).
func isError(m wsMessage, code string) bool {
	return (m.Type == "error" || m.Type == "next") && strings.Contains(string(m.Payload), `"errors"`) &&
		strings.Contains(string(m.Payload), `"code":"`+code+`"`)
}

// Limits: per connection and per user, each a TOO_MANY_SUBSCRIPTIONS error
// on the subscription that does not fit, the others untouched.
func TestLiveLimits(t *testing.T) {
	t.Parallel()
	h := newHarnessEnv(t, map[string]string{"APP_ENV": config.EnvDevelopment,
		"LIVE_MAX_PER_CONNECTION": "2", "LIVE_MAX_PER_USER": "3"})
	waitListening(t, h)
	_, tok := h.newUser(t)
	h.warm(t, tok)
	c := dialWS(t, h.srv.URL, "Bearer "+tok)
	c.ack()
	// gqlgen starts a socket's subscriptions concurrently: which one of
	// three is refused is not fixed.
	for _, id := range []string{"a", "b", "c"} {
		c.subscribe(id, subscriptionQuery, nil)
	}
	m := c.next(10 * time.Second)
	if !isError(m, "TOO_MANY_SUBSCRIPTIONS") {
		t.Fatalf("third subscription on one connection: %s %s %s, want an error TOO_MANY_SUBSCRIPTIONS", m.ID, m.Type, m.Payload)
	}
	if m = c.next(10 * time.Second); m.Type != "complete" {
		t.Fatalf("after the refusal: %s %s, want complete", m.Type, m.Payload)
	}
	admitted := map[string]bool{"a": true, "b": true, "c": true}
	delete(admitted, m.ID)
	waitSubscriptions(t, h, 2)
	d := dialWS(t, h.srv.URL, "Bearer "+tok)
	d.ack()
	d.subscribe("x", subscriptionQuery, nil)
	waitSubscriptions(t, h, 3)
	d.subscribe("y", subscriptionQuery, nil)
	if m = d.next(10 * time.Second); m.ID != "y" || !isError(m, "TOO_MANY_SUBSCRIPTIONS") {
		t.Fatalf("fourth subscription of one user: %s %s %s, want an error TOO_MANY_SUBSCRIPTIONS", m.ID, m.Type, m.Payload)
	}
	admitted["x"] = true
	// The three admitted still get changes.
	h.mustCreateSet(t, tok, map[string]any{"title": "counted"})
	seen := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < len(admitted) {
		select {
		case m := <-c.msgs:
			if m.Type == "next" {
				seen[m.ID] = true
			}
		case m := <-d.msgs:
			if m.Type == "next" {
				seen[m.ID] = true
			}
		case <-timeout:
			t.Fatalf("after 10 s the admitted subscriptions %v got changes on %v only", admitted, seen)
		}
	}
	for id := range admitted {
		if !seen[id] {
			t.Errorf("subscription %s got no change", id)
		}
	}
}

// waitSubscriptions waits until h's hub holds n subscriptions.
func waitSubscriptions(t *testing.T, h *harness, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.hub.Stats().Subscriptions != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub holds %d subscriptions, want %d", h.hub.Stats().Subscriptions, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A subscriber that stops reading is disconnected once its queue is full
// (with 1013, or cut when even the close cannot be written), never
// buffered without bound, and leaves the hub.
func TestLiveSlowSubscriberIsDisconnected(t *testing.T) {
	t.Parallel()
	h := newHarnessEnv(t, map[string]string{"APP_ENV": config.EnvDevelopment, "LIVE_QUEUE": "20"})
	waitListening(t, h)
	user, tok := h.newUser(t)
	h.warm(t, tok)
	c := dialWS(t, h.srv.URL, "Bearer "+tok)
	c.ack()
	// Each change carries a set with long notes, so the socket's buffers
	// fill quickly once the client stops reading.
	c.subscribe("1", `subscription { collectionChanged { cursor set { notes } } }`, nil)
	waitSubscriptions(t, h, 1)
	c.hold() // reads nothing more (answers no ping either)
	notes := strings.Repeat("n", 10_000)
	h.mustExec(t, `INSERT INTO sets (user_id, title, notes) SELECT ?, 'bulk', ? FROM generate_series(1, 1000)`, user, notes)
	deadline := time.Now().Add(30 * time.Second)
	for h.hub.Stats().Subscriptions > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow subscriber is still subscribed after 30 s: %+v", h.hub.Stats())
		}
		h.mustExec(t, `UPDATE sets SET notes = notes || 'x' WHERE user_id = ?`, user)
	}
	if st := h.hub.Stats(); st.Slow != 1 {
		t.Errorf("hub stats %+v, want one slow subscriber", st)
	}
}

// SIGTERM: requests in flight finish, then every subscription socket is
// closed with 1001 (going away), and Serve returns.
func TestShutdownClosesSocketsWith1001AfterDraining(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	waitListening(t, h)
	_, tok := h.newUser(t)
	h.warm(t, tok)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := h.serve(t, ctx, 10*time.Second)
	c := dialWS(t, "http://"+addr, "Bearer "+tok)
	c.ack()
	c.subscribe("1", subscriptionQuery, nil)
	waitSubscriptions(t, h, 1)

	started := h.slowSets(t, 500*time.Millisecond)
	inFlight := postAsync(addr, tok)
	<-started
	slowSince := time.Now()
	cancel()
	select {
	case r := <-inFlight:
		if r.err != nil || r.status != 200 {
			t.Fatalf("the request in flight at shutdown: %d %v, want it answered", r.status, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight never finished")
	}
	if code := c.closeStatus(10 * time.Second); code != 1001 {
		t.Fatalf("socket closed with %d at shutdown, want 1001", code)
	}
	c.mu.Lock()
	closedAt := c.closedAt
	c.mu.Unlock()
	// The request's statement sleeps 500 ms: a socket closed sooner was
	// closed before the request had drained.
	if held := closedAt.Sub(slowSince); held < 450*time.Millisecond {
		t.Errorf("the socket closed %s into the in-flight request's 500 ms, want after it drained", held)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// changesCursor asked for beside data is read before the data (root fields
// run concurrently otherwise): a cursor read after could be past a change
// that the data does not show.
func TestChangesCursorIsReadBeforeTheData(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, tok := h.newUser(t)
	h.warm(t, tok)
	for range 3 {
		mustOK(t, h.do(t, tok, `{ sets { nodes { id } } themes { theme } changesCursor }`, nil), nil)
		statements := h.rec.take()
		head, data := -1, -1
		for i, q := range statements {
			switch {
			case strings.Contains(q, "change_heads") && head < 0:
				head = i
			case (strings.Contains(q, "sets") || strings.Contains(q, "user_theme_totals")) && !strings.Contains(q, "change_heads") && data < 0:
				data = i
			}
		}
		if head < 0 || data < 0 || head > data {
			t.Fatalf("statements in order:\n%s\nwant the change head read before any data", strings.Join(statements, "\n"))
		}
	}
}
