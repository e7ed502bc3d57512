package server_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/testdb"
)

// newReplicaHarness is one API instance over the primary at primaryURL
// that reads from the replica at replicaURL, configured by env.
func newReplicaHarness(t *testing.T, env map[string]string, primaryURL, replicaURL string) *harness {
	t.Helper()
	env["DATABASE_URL"], env["DATABASE_DIRECT_URL"], env["DATABASE_REPLICA_URLS"] = primaryURL, primaryURL, replicaURL
	return newHarnessAt(t, env, primaryURL)
}

// metric returns the value of the series named by selector (name and
// labels exactly as /metrics writes them), or -1 when it is missing.
func (h *harness) metric(t *testing.T, selector string) float64 {
	t.Helper()
	resp, err := h.srv.Client().Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(selector) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReplicasBehindTheAPI: two API instances share a primary and a
// standby that applies transactions 2 s late. What a user writes through
// one is what their next query through the other answers; /metrics counts
// reads by target; with the standby stopped, /readyz stays ready and
// queries keep working.
func TestReplicasBehindTheAPI(t *testing.T) {
	t.Parallel()
	primary := testdb.StartCluster(t)
	primaryURL := primary.Migrated("sets")
	standby := testdb.StartStandby(t, primary, testdb.StandbyOptions{ApplyDelay: 2 * time.Second})
	env := func() map[string]string {
		return map[string]string{"APP_ENV": config.EnvDevelopment, "REPLICA_MAX_LAG": "1h"}
	}
	a := newReplicaHarness(t, env(), primaryURL, standby.URL("sets"))
	envB := env()
	envB["DB_PREPARED_STATEMENTS"] = "false" // as behind PgBouncer 1.18
	b := newReplicaHarness(t, envB, primaryURL, standby.URL("sets"))
	up := `sets_db_replica_up{replica="postgres@127.0.0.1:` + strconv.Itoa(standby.Port) + `/sets"}`
	for _, h := range []*harness{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for h.metric(t, up) != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("replica not up after 10s: %s = %v", up, h.metric(t, up))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	_, token := a.newUser(t)
	set := a.mustCreateSet(t, token, map[string]any{"title": "First"})
	const read = `query($id: UUID!) { set(id: $id) { title } sets { totalCount nodes { title } } }`
	type answer struct {
		Set  struct{ Title string } `json:"set"`
		Sets struct {
			TotalCount int                      `json:"totalCount"`
			Nodes      []struct{ Title string } `json:"nodes"`
		} `json:"sets"`
	}
	// behind counts the reads after which the standby itself still lacked
	// the write: those B must have answered from the primary. A slow
	// machine may let the standby catch up within its delay now and then,
	// and then the replica rightly answers.
	onStandby := testdb.Open(t, standby.URL("sets"))
	behind := 0
	for i, title := range []string{"First", "Second", "Third"} {
		if i > 0 {
			mustOK(t, a.do(t, token, updateSetMutation, map[string]any{"id": set.ID, "input": map[string]any{"title": title}}), nil)
		}
		var got answer
		mustOK(t, b.do(t, token, read, map[string]any{"id": set.ID}), &got)
		if got.Set.Title != title || got.Sets.TotalCount != 1 || got.Sets.Nodes[0].Title != title {
			t.Errorf("write %d through A, read through B: %+v, want the set titled %q", i, got, title)
		}
		var there []string
		if err := onStandby.NewRaw("SELECT title FROM sets WHERE id = ?", set.ID).Scan(context.Background(), &there); err != nil {
			t.Fatal(err)
		}
		if len(there) == 0 || there[0] != title {
			behind++
		}
	}
	if behind == 0 {
		t.Fatal("the standby had every write before B read it: its apply delay held nothing back, so nothing was tested")
	}
	var onPrimary float64
	for _, reason := range []string{"stale", "no_replica", "replica_error", "head_error"} {
		onPrimary += b.metric(t, `sets_db_routed_reads_total{reason="`+reason+`",target="primary"}`)
	}
	if onPrimary < float64(behind) {
		t.Errorf("B answered %v reads from the primary, want at least %d (the reads the standby was behind for)", onPrimary, behind)
	}
	// Someone who wrote nothing is answered by the replica.
	_, quiet := b.newUser(t)
	fresh := `sets_db_routed_reads_total{reason="fresh",target="replica"}`
	before := b.metric(t, fresh)
	mustOK(t, b.do(t, quiet, `{ sets { totalCount } themes { theme } }`, nil), nil)
	if after := b.metric(t, fresh); after != before+2 {
		t.Errorf("%s went from %v to %v, want 2 more", fresh, before, after)
	}
	if lag := b.metric(t, `sets_db_replica_lag_seconds{replica="postgres@127.0.0.1:`+strconv.Itoa(standby.Port)+`/sets"}`); lag < 0 {
		t.Errorf("no lag series on /metrics")
	}

	standby.Stop("immediate")
	var got answer
	mustOK(t, b.do(t, token, read, map[string]any{"id": set.ID}), &got)
	if got.Set.Title != "Third" {
		t.Errorf("with the standby stopped: %+v, want the set titled Third", got)
	}
	resp, err := b.srv.Client().Get(b.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz with the standby stopped: HTTP %d, want 200", resp.StatusCode)
	}
	// Its prober notices within a second, even with no read meeting it.
	deadline := time.Now().Add(time.Second)
	for b.metric(t, up) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still not 0 a second after the standby stopped", up)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
