package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/internal/testdb"
)

// gateTracer watches the store's read round trips: how many run at once,
// and in which order they start. hold, when set, keeps each round trip
// waiting at its start until it is closed.
type gateTracer struct {
	mu       sync.Mutex
	active   int
	maxSeen  int
	started  []string
	hold     chan struct{}
	observed chan struct{} // receives each start, when set
}

type callerKey struct{}

func (g *gateTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	g.mu.Lock()
	g.active++
	g.maxSeen = max(g.maxSeen, g.active)
	name, _ := ctx.Value(callerKey{}).(string)
	g.started = append(g.started, name)
	g.mu.Unlock()
	if g.observed != nil {
		g.observed <- struct{}{}
	}
	if g.hold != nil {
		<-g.hold
	} else {
		// Long enough for the other callers to pile up behind this one.
		time.Sleep(2 * time.Millisecond)
	}
	return ctx
}

func (g *gateTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (g *gateTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {
	g.mu.Lock()
	g.active--
	g.mu.Unlock()
}

// TestActiveReadsAreBounded: with MaxActiveReads set, no more reads than
// that reach the database at once, however many callers there are (the
// pool has 8 connections, so without the bound up to 8 would).
func TestActiveReadsAreBounded(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	user := insertUser(t, db)
	g := &gateTracer{}
	s := store.New(db, store.Options{MaxActiveReads: 2, Tracer: g, NoPrepare: testdb.NoPrepare()})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for range 4 {
				if _, err := s.Themes(context.Background(), user); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Themes: %v", err)
	}
	if g.maxSeen != 2 {
		t.Errorf("at most %d reads ran at once, want exactly 2 (the bound, reached by 16 callers)", g.maxSeen)
	}
}

// TestActiveReadsWaitInArrivalOrder: callers that find every slot taken
// are served first come, first served, and one whose context ends while
// waiting gives up with its context's error.
func TestActiveReadsWaitInArrivalOrder(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	user := insertUser(t, db)
	g := &gateTracer{hold: make(chan struct{}), observed: make(chan struct{}, 16)}
	s := store.New(db, store.Options{MaxActiveReads: 1, Tracer: g, NoPrepare: testdb.NoPrepare()})
	read := func(name string) error {
		_, err := s.Themes(context.WithValue(context.Background(), callerKey{}, name), user)
		return err
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Go(func() { errs <- read("first") })
	<-g.observed // "first" holds the only slot

	// A caller whose context ends while it waits is not served.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	gaveUp := make(chan error, 1)
	go func() {
		_, err := s.Themes(context.WithValue(ctx, callerKey{}, "impatient"), user)
		gaveUp <- err
	}()
	select {
	case err := <-gaveUp:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting past its deadline: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a caller whose deadline passed while waiting did not give up")
	}

	waiting := []string{"second", "third", "fourth", "fifth"}
	for _, name := range waiting {
		wg.Go(func() { errs <- read(name) })
		// Let it reach the queue before the next one arrives.
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := s.ReadStats(), (store.ReadStats{MaxActive: 1, Active: 1, Waiting: 4, WaitCount: 1}); got.MaxActive != want.MaxActive ||
		got.Active != want.Active || got.Waiting != want.Waiting || got.WaitCount != want.WaitCount || got.WaitDuration < 50*time.Millisecond {
		t.Errorf("ReadStats while four wait = %+v, want %+v and at least the impatient caller's 50ms of waiting", got, want)
	}
	close(g.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Themes: %v", err)
		}
	}
	if st := s.ReadStats(); st.Active != 0 || st.Waiting != 0 || st.WaitCount != 5 {
		t.Errorf("ReadStats after all reads = %+v, want none active or waiting, 5 waits in all", st)
	}
	want := append([]string{"first"}, waiting...)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.started) != len(want) {
		t.Fatalf("reads started: %q, want %q", g.started, want)
	}
	for i := range want {
		if g.started[i] != want[i] {
			t.Fatalf("reads started in the order %q, want %q", g.started, want)
		}
	}
}
