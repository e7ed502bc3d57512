// Command livebench loads a running server's live updates (SPEC §11) for
// bench/live.sh, and prints what it measured:
//
//	livebench -mode idle    -url URL -subs 5000 -users 1000
//	livebench -mode latency -url URL -subs 2000 -users 1000 -rate 50 -duration 30s
//	livebench -mode writes  -url URL -users 50 -requests 4000 -clients 4
//
// idle opens -subs subscriptions (one socket each, spread over -users
// users), checks that each is acknowledged and subscribed, then holds them
// until it is killed: the script reads the server's resident memory
// meanwhile. latency holds -subs subscriptions and updates one random
// user's set -rate times a second; every subscriber of that user records
// the time from the change's `at` (its transaction's start, which is before
// its commit: the figure is an upper bound of commit to receipt) to the
// moment its message is read, and it prints p50/p90/p99/max over every
// delivery. writes times single-set updates (Q2-style: one set by id) as
// the write path's latency.
//
// Tokens are signed with AUTH_JWT_SECRET, as the server checks them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/auth"
)

func main() {
	mode := flag.String("mode", "idle", "idle, latency or writes")
	base := flag.String("url", "http://127.0.0.1:8090", "the server's base URL")
	subs := flag.Int("subs", 5000, "subscriptions (one socket each)")
	users := flag.Int("users", 1000, "users they are spread over")
	rate := flag.Int("rate", 50, "changes a second (latency)")
	duration := flag.Duration("duration", 30*time.Second, "how long to change sets (latency)")
	requests := flag.Int("requests", 4000, "updates to time (writes)")
	clients := flag.Int("clients", 4, "concurrent writers (writes)")
	flag.Parse()
	secret := os.Getenv("AUTH_JWT_SECRET")
	if secret == "" {
		fail(errors.New("AUTH_JWT_SECRET must be the server's"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{base: strings.TrimRight(*base, "/"), secret: secret, http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	var err error
	switch *mode {
	case "idle":
		err = b.idle(ctx, *subs, *users)
	case "latency":
		err = b.latency(ctx, *subs, *users, *rate, *duration)
	case "writes":
		err = b.writes(ctx, *users, *requests, *clients)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "livebench:", err)
	os.Exit(1)
}

type bench struct {
	base, secret string
	http         *http.Client
}

type user struct {
	id    uuid.UUID
	token string
	set   string // a set of theirs, for the writers
}

func (b *bench) newUsers(n int) ([]*user, error) {
	out := make([]*user, n)
	for i := range out {
		id := uuid.New()
		tok, err := auth.Mint(b.secret, id, 24*time.Hour)
		if err != nil {
			return nil, err
		}
		out[i] = &user{id: id, token: tok}
	}
	return out, nil
}

// post runs a GraphQL request as u and decodes its data into dst.
func (b *bench) post(ctx context.Context, u *user, query string, vars map[string]any, dst any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.token)
	res, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return fmt.Errorf("HTTP %d: %w", res.StatusCode, err)
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("HTTP %d: %s", res.StatusCode, out.Errors[0].Message)
	}
	if dst != nil {
		return json.Unmarshal(out.Data, dst)
	}
	return nil
}

// createSets gives every user one set, in parallel.
func (b *bench) createSets(ctx context.Context, users []*user) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	work := make(chan *user)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				var d struct {
					CreateSet struct{ Set struct{ ID string } }
				}
				if err := b.post(ctx, u, `mutation { createSet(input: {title: "live bench"}) { set { id } } }`, nil, &d); err != nil {
					errs <- err
					continue
				}
				u.set = d.CreateSet.Set.ID
			}
		}()
	}
	for _, u := range users {
		work <- u
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

const subscription = `subscription { collectionChanged { cursor kind at set { id title } } }`

// sub is one subscription's socket.
type sub struct {
	conn *websocket.Conn
	user *user
}

// subscribe opens n sockets round-robin over users, each acknowledged and
// subscribed, 50 at a time.
func (b *bench) subscribe(ctx context.Context, n int, users []*user) ([]*sub, error) {
	out := make([]*sub, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				s, err := b.open(ctx, users[i%len(users)])
				if err != nil {
					errs <- fmt.Errorf("subscription %d: %w", i, err)
					return
				}
				out[i] = s
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

func (b *bench) open(ctx context.Context, u *user) (*sub, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(b.base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	send := func(v any) error {
		m, _ := json.Marshal(v)
		return conn.Write(dctx, websocket.MessageText, m)
	}
	if err := send(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + u.token}}); err != nil {
		return nil, err
	}
	_, m, err := conn.Read(dctx)
	if err != nil || !bytes.Contains(m, []byte(`"connection_ack"`)) {
		return nil, fmt.Errorf("no connection_ack: %s %v", m, err)
	}
	if err := send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": subscription}}); err != nil {
		return nil, err
	}
	return &sub{conn: conn, user: u}, nil
}

// waitSubscribed polls the server's metrics until it holds n
// subscriptions: a socket's subscribe message is answered only by changes.
func (b *bench) waitSubscribed(ctx context.Context, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := b.metric(ctx, "sets_live_subscriptions")
		if err == nil && got >= float64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server holds %v subscriptions, want %d (%v)", got, n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *bench) metric(ctx context.Context, name string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/metrics", nil)
	res, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			return f, err
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// pong answers the server's pings on s until its socket ends, and hands
// each change's payload to onNext.
func (s *sub) read(ctx context.Context, onNext func(data []byte, at time.Time)) {
	for {
		_, m, err := s.conn.Read(ctx)
		if err != nil {
			return
		}
		now := time.Now()
		switch {
		case bytes.Contains(m, []byte(`"type":"ping"`)):
			s.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case bytes.Contains(m, []byte(`"type":"next"`)) && onNext != nil:
			onNext(m, now)
		}
	}
}

func (b *bench) idle(ctx context.Context, n, users int) error {
	us, err := b.newUsers(users)
	if err != nil {
		return err
	}
	start := time.Now()
	subs, err := b.subscribe(ctx, n, us)
	if err != nil {
		return err
	}
	if err := b.waitSubscribed(ctx, n); err != nil {
		return err
	}
	for _, s := range subs {
		go s.read(ctx, nil)
	}
	fmt.Printf("IDLE_READY subscriptions=%d users=%d opened_in=%s\n", n, users, time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	return nil
}

func (b *bench) latency(ctx context.Context, n, users, rate int, d time.Duration) error {
	us, err := b.newUsers(users)
	if err != nil {
		return err
	}
	if err := b.createSets(ctx, us); err != nil {
		return fmt.Errorf("create sets: %w", err)
	}
	subs, err := b.subscribe(ctx, n, us)
	if err != nil {
		return err
	}
	if err := b.waitSubscribed(ctx, n); err != nil {
		return err
	}
	var mu sync.Mutex
	var lat []time.Duration
	var bad atomic.Int64
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, s := range subs {
		go s.read(rctx, func(m []byte, got time.Time) {
			var p struct {
				Payload struct {
					Data struct{ CollectionChanged struct{ At time.Time } }
				}
			}
			if json.Unmarshal(m, &p) != nil || p.Payload.Data.CollectionChanged.At.IsZero() {
				bad.Add(1)
				return
			}
			mu.Lock()
			lat = append(lat, got.Sub(p.Payload.Data.CollectionChanged.At))
			mu.Unlock()
		})
	}
	// One writer per change in flight, paced by a ticker: a slow write
	// does not delay the next.
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	var writes, failed atomic.Int64
	var wg sync.WaitGroup
	for time.Now().Before(end) && ctx.Err() == nil {
		<-tick.C
		u := us[rand.N(len(us))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			writes.Add(1)
			if err := b.post(ctx, u, `mutation($id: UUID!, $t: String!) { updateSet(id: $id, input: {title: $t}) { id } }`,
				map[string]any{"id": u.set, "t": fmt.Sprint(time.Now().UnixNano())}, nil); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // the last deliveries
	cancel()
	mu.Lock()
	defer mu.Unlock()
	perUser := float64(n) / float64(users)
	fmt.Printf("LATENCY subscriptions=%d users=%d changes=%d failed_writes=%d changes_per_s=%.1f deliveries=%d expected=%.0f undecodable=%d\n",
		n, users, writes.Load(), failed.Load(), float64(writes.Load())/d.Seconds(), len(lat),
		float64(writes.Load()-failed.Load())*perUser, bad.Load())
	printPercentiles("commit_to_receipt", lat)
	return nil
}

func (b *bench) writes(ctx context.Context, users, n, clients int) error {
	us, err := b.newUsers(users)
	if err != nil {
		return err
	}
	if err := b.createSets(ctx, us); err != nil {
		return fmt.Errorf("create sets: %w", err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				u := us[rand.N(len(us))]
				start := time.Now()
				err := b.post(ctx, u, `mutation($id: UUID!, $t: String!) { updateSet(id: $id, input: {title: $t}) { id } }`,
					map[string]any{"id": u.set, "t": fmt.Sprint(start.UnixNano())}, nil)
				took := time.Since(start)
				if err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("WRITES requests=%d clients=%d failed=%d\n", n, clients, failed.Load())
	printPercentiles("update_set", lat)
	return nil
}

func printPercentiles(name string, d []time.Duration) {
	if len(d) == 0 {
		fmt.Printf("%s: no samples\n", name)
		return
	}
	slices.Sort(d)
	p := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	fmt.Printf("%s_ms p50=%.2f p90=%.2f p99=%.2f max=%.2f n=%d\n", name,
		ms(p(.5)), ms(p(.9)), ms(p(.99)), ms(d[len(d)-1]), len(d))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
