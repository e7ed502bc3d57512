package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/models"
)

// replicaPair is a private primary with a migrated database and a
// streaming standby of it.
type replicaPair struct {
	primary, standby         *testdb.Cluster
	primaryURL, standbyURL   string
	primaryDB, standbyDirect *bun.DB
}

func startReplicaPair(t *testing.T, delay time.Duration) *replicaPair {
	t.Helper()
	p := &replicaPair{primary: testdb.StartCluster(t)}
	p.primaryURL = p.primary.Migrated("sets")
	p.standby = testdb.StartStandby(t, p.primary, testdb.StandbyOptions{ApplyDelay: delay})
	p.standbyURL = p.standby.URL("sets")
	p.primaryDB = testdb.Open(t, p.primaryURL)
	p.standbyDirect = testdb.Open(t, p.standbyURL)
	return p
}

// instance is one API instance's store: a primary pool and replicas of
// its own, as a separate process would have.
// noPrepare sends every statement unnamed, as behind PgBouncer 1.18.
func (p *replicaPair) instance(t *testing.T, maxLag time.Duration, noPrepare bool) (*store.Store, *postgres.Replicas) {
	t.Helper()
	db := testdb.Open(t, p.primaryURL)
	rs, err := postgres.OpenReplicas(db.DB, []string{p.standbyURL}, postgres.PoolConfig{MaxConns: 4},
		postgres.ReplicaOptions{MaxLag: maxLag})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	s := store.New(db, store.Options{Replicas: rs, Retry: postgres.Retry{Within: 5 * time.Second}, NoPrepare: noPrepare})
	return s, rs
}

// waitFor fails the test unless ok holds within d, polling.
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: still not %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func replicaUsable(rs *postgres.Replicas) func() bool {
	return func() bool {
		st := rs.Status()[0]
		return st.Up && st.Known && st.Lag < rs.MaxLag()
	}
}

func mustCreateSet(t *testing.T, s *store.Store, user uuid.UUID, title string) *models.Set {
	t.Helper()
	set := &models.Set{UserID: user, Title: title, Tags: []string{}, Quantity: 1}
	if err := s.CreateSet(context.Background(), set, nil); err != nil {
		t.Fatal(err)
	}
	return set
}

// replicaHas reports whether the standby itself shows set id.
func (p *replicaPair) replicaHas(t *testing.T, id uuid.UUID, title string) bool {
	t.Helper()
	n, err := p.standbyDirect.NewSelect().TableExpr("sets").Where("id = ? AND title = ?", id, title).
		Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestReplicaTakesReadsAndStopsGracefully: with a fresh replica, a user's
// reads are answered by it; stopped, reads go on succeeding, moved to the
// primary within a second; started again, it takes them back.
func TestReplicaTakesReadsAndStopsGracefully(t *testing.T) {
	t.Parallel()
	p := startReplicaPair(t, 0)
	s, rs := p.instance(t, 2*time.Second, false)
	ctx := context.Background()
	user := insertUser(t, p.primaryDB)
	set := mustCreateSet(t, s, user, "Fresh")
	waitFor(t, 10*time.Second, "replica usable", replicaUsable(rs))
	waitFor(t, 10*time.Second, "set replayed", func() bool { return p.replicaHas(t, set.ID, "Fresh") })

	before := s.RouteStats()
	const reads = 20
	for range reads {
		got, err := s.Set(ctx, user, set.ID)
		if err != nil || got.Title != "Fresh" {
			t.Fatalf("Set = %v, %v; want the set titled Fresh", got, err)
		}
	}
	page, err := s.ListSets(ctx, &store.SetQuery{UserID: user, Order: store.DefaultOrder, Limit: 10}, store.PageOptions{Images: true, Count: true})
	if err != nil || len(page.Sets) != 1 || *page.Total != 1 {
		t.Fatalf("ListSets = %+v, %v; want the one set", page, err)
	}
	if _, err := s.Stats(ctx, user, &store.SetFilter{}); err != nil {
		t.Fatal(err)
	}
	after := s.RouteStats()
	if got, want := after.Replica-before.Replica, int64(reads+2); got != want {
		t.Errorf("reads answered by the replica: got %d, want %d (%+v)", got, want, after)
	}

	// Readers keep reading while the standby goes away.
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		slowest  time.Duration
		total    int
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				_, _, err := s.SetWithImages(ctx, user, set.ID)
				took := time.Since(start)
				mu.Lock()
				total++
				slowest = max(slowest, took)
				if err != nil {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	stopped := time.Now()
	p.standby.Stop("immediate")
	waitFor(t, time.Second, "replica marked down", func() bool { return !rs.Status()[0].Up })
	t.Logf("replica marked down %v after pg_ctl stop returned", time.Since(stopped))
	time.Sleep(500 * time.Millisecond)
	movedAt := s.RouteStats()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d reads failed with the replica stopped; first: %v", len(failures), total, failures[0])
	}
	if slowest > time.Second {
		t.Errorf("slowest read took %v, want under a second", slowest)
	}
	if end := s.RouteStats(); end.Replica != movedAt.Replica {
		t.Errorf("reads still answered by a stopped replica: %d then %d", movedAt.Replica, end.Replica)
	}
	t.Logf("%d reads with the replica going down, slowest %v; moved after a replica error: %d",
		total, slowest, s.RouteStats().PrimaryReplicaError)

	p.standby.Start()
	waitFor(t, 10*time.Second, "replica usable again", replicaUsable(rs))
	back := s.RouteStats().Replica
	if _, err := s.Set(ctx, user, set.ID); err != nil {
		t.Fatal(err)
	}
	if s.RouteStats().Replica != back+1 {
		t.Errorf("the restarted replica does not take reads: %+v", s.RouteStats())
	}
}

// TestReadYourWritesAcrossInstances: with a replica that applies every
// transaction 2 s late, a write through instance A is seen by the next
// read through instance B, every time, while the replica itself does not
// have it yet; a user who did not write still reads from the replica; and
// past REPLICA_MAX_LAG the replica gets no reads at all.
func TestReadYourWritesAcrossInstances(t *testing.T) {
	t.Parallel()
	p := startReplicaPair(t, 2*time.Second)
	// A lag limit the delay stays under: only the user's position decides.
	// B sends no prepared statements (DB_PREPARED_STATEMENTS=false).
	a, ra := p.instance(t, time.Hour, false)
	b, rb := p.instance(t, time.Hour, true)
	ctx := context.Background()
	writer, bystander := insertUser(t, p.primaryDB), insertUser(t, p.primaryDB)
	quiet := mustCreateSet(t, a, bystander, "Quiet")
	set := mustCreateSet(t, a, writer, "v0")
	waitFor(t, 10*time.Second, "replicas usable", func() bool { return replicaUsable(ra)() && replicaUsable(rb)() })
	waitFor(t, 10*time.Second, "set replayed", func() bool { return p.replicaHas(t, set.ID, "v0") })

	for i := 1; i <= 3; i++ {
		title := "v" + string(rune('0'+i))
		if _, err := a.UpdateSet(ctx, writer, set.ID, &store.SetPatch{Set: models.Set{Title: title}, Columns: []string{"title"}}); err != nil {
			t.Fatal(err)
		}
		before := b.RouteStats()
		got, err := b.Set(ctx, writer, set.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != title {
			t.Errorf("write %d: instance B read title %q, want %q", i, got.Title, title)
		}
		page, err := b.ListSets(ctx, &store.SetQuery{UserID: writer, Order: store.DefaultOrder, Limit: 5}, store.PageOptions{})
		if err != nil || len(page.Sets) != 1 || page.Sets[0].Title != title {
			t.Errorf("write %d: instance B's page = %+v, %v; want the set titled %q", i, page, err, title)
		}
		if stale := b.RouteStats().PrimaryStale - before.PrimaryStale; stale != 2 {
			t.Errorf("write %d: reads moved to the primary for being behind: got %d, want 2", i, stale)
		}
		// The control: the replica itself does not have the write yet.
		if p.replicaHas(t, set.ID, title) {
			t.Errorf("write %d: the replica already had it; the test proves nothing", i)
		}
		// Someone else's reads still go to the replica.
		r0 := b.RouteStats().Replica
		if got, err := b.Set(ctx, bystander, quiet.ID); err != nil || got.Title != "Quiet" {
			t.Fatalf("bystander's Set = %v, %v", got, err)
		}
		if b.RouteStats().Replica != r0+1 {
			t.Errorf("write %d: the bystander's read did not go to the replica", i)
		}
	}

	t.Run("MaxLagExceeded", func(t *testing.T) {
		c, rc := p.instance(t, 300*time.Millisecond, false)
		// Writes keep the replica 2 s behind the primary.
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-time.After(100 * time.Millisecond):
				}
				_, _ = a.UpdateSet(ctx, writer, set.ID, &store.SetPatch{Set: models.Set{Title: "busy"}, Columns: []string{"title"}})
			}
		}()
		defer func() { close(done); wg.Wait() }()
		waitFor(t, 10*time.Second, "lag measured past the limit", func() bool {
			st := rc.Status()[0]
			return st.Up && st.Known && st.Lag > rc.MaxLag()
		})
		t.Logf("lag measured: %v", rc.Status()[0].Lag)
		before := c.RouteStats()
		for range 5 {
			if got, err := c.Set(ctx, bystander, quiet.ID); err != nil || got.Title != "Quiet" {
				t.Fatalf("Set = %v, %v", got, err)
			}
		}
		after := c.RouteStats()
		if after.Replica != before.Replica || after.PrimaryNoReplica-before.PrimaryNoReplica != 5 {
			t.Errorf("with the replica past REPLICA_MAX_LAG: replica reads %d→%d, primary (no replica) %d→%d; want all 5 on the primary",
				before.Replica, after.Replica, before.PrimaryNoReplica, after.PrimaryNoReplica)
		}
	})
}

// TestAPrimaryListedAsReplicaGetsNoReads: a "replica" that is not in
// recovery does not follow the primary (a promoted standby, a wrong URL),
// so it is reported down and every read goes to the primary.
func TestAPrimaryListedAsReplicaGetsNoReads(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	db := testdb.Open(t, url)
	rs, err := postgres.OpenReplicas(db.DB, []string{url}, postgres.PoolConfig{MaxConns: 2}, postgres.ReplicaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	s := store.New(db, store.Options{Replicas: rs, NoPrepare: testdb.NoPrepare()})
	waitFor(t, 5*time.Second, "the probe's verdict", func() bool {
		return rs.Status()[0].Err != nil &&
			strings.Contains(rs.Status()[0].Err.Error(), "not a standby")
	})
	user := insertUser(t, db)
	if _, err := s.Themes(context.Background(), user); err != nil {
		t.Fatal(err)
	}
	if st := s.RouteStats(); st.Replica != 0 || st.PrimaryNoReplica != 1 {
		t.Errorf("route stats %+v, want the one read on the primary for want of a replica", st)
	}
}
