package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// Replicas are the streaming replicas that reads may go to (SPEC §12),
// each watched by a prober of its own. A replica is picked only while it
// answered its last probe as a standby and its replay lag was within
// ReplicaOptions.MaxLag; otherwise reads go to the primary. Which reads
// may use a replica, and how they still see their user's own writes, is
// the store's business (internal/store/replicas.go).
//
// Lag is measured in WAL, not with now() - pg_last_xact_replay_timestamp(),
// which grows without bound on a primary that has nothing to write: a
// sampler reads the primary's pg_current_wal_lsn() every probe interval,
// and a replica's lag is the time since the primary was first seen past
// the replica's pg_last_wal_replay_lsn() (zero once the replica has
// replayed all the primary had at the last sample), to within one
// interval.
type Replicas struct {
	primary *sql.DB
	list    []*Replica
	opts    ReplicaOptions
	next    atomic.Uint64 // round robin among the usable ones

	mu      sync.Mutex
	samples []walSample // the primary's positions, oldest first
	since   time.Time   // when sampling started

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ReplicaOptions tune the probers; zero values take the defaults.
type ReplicaOptions struct {
	// MaxLag is the replay lag above which a replica gets no reads
	// (REPLICA_MAX_LAG, default 2s).
	MaxLag time.Duration
	// ProbeInterval is how often each replica, and the primary's WAL
	// position, are read (default 250ms): a stopped replica stops getting
	// reads within about one interval, and at once for a read that meets
	// the broken connection.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe (default 500ms): a replica that does
	// not answer within it counts as down.
	ProbeTimeout time.Duration
	// Log, when set, hears of replicas going down and coming back.
	Log *slog.Logger
}

// Defaults of ReplicaOptions.
const (
	DefaultReplicaMaxLag = 2 * time.Second
	defaultProbeInterval = 250 * time.Millisecond
	defaultProbeTimeout  = 500 * time.Millisecond
)

// Replica is one read replica and what its prober last found.
type Replica struct {
	// Name is the replica's address without credentials, for logs and
	// metric labels.
	Name string
	// DB is its connection pool.
	DB    *bun.DB
	state atomic.Pointer[ReplicaStatus]
	set   *Replicas
}

// ReplicaStatus is what a replica's last probe (or last failed read) found.
type ReplicaStatus struct {
	Name string
	// Up: it answered its last probe, as a standby, and no read has
	// failed on its connections since.
	Up bool
	// Lag is its replay lag at the last probe; meaningful only while Up.
	Lag time.Duration
	// Known: there were enough samples of the primary to measure Lag.
	Known bool
	// Err is why it is down, when it is.
	Err error
}

// usable reports whether reads may go to the replica now.
func (st *ReplicaStatus) usable(maxLag time.Duration) bool {
	return st != nil && st.Up && st.Known && st.Lag <= maxLag
}

type walSample struct {
	sent, received time.Time
	lsn            int64
}

// OpenReplicas opens a pool (configured like the primary's, by pool) for
// each of urls and starts probing them against primary; with no urls it
// returns nil, which picks no replica. It does not wait
// for the first probes: until a replica has answered one, reads go to the
// primary. Close stops the probers and closes the pools.
func OpenReplicas(primary *sql.DB, urls []string, pool PoolConfig, opts ReplicaOptions) (*Replicas, error) {
	if len(urls) == 0 {
		return nil, nil // a nil *Replicas picks none
	}
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultReplicaMaxLag
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = defaultProbeInterval
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = defaultProbeTimeout
	}
	rs := &Replicas{primary: primary, opts: opts, since: time.Now()}
	for i, u := range urls {
		db, err := Open(u, pool)
		if err != nil {
			rs.closePools()
			return nil, fmt.Errorf("replica %d: %w", i+1, err)
		}
		r := &Replica{Name: Redact(u), DB: db, set: rs}
		r.state.Store(&ReplicaStatus{Name: r.Name, Err: errors.New("not probed yet")})
		rs.list = append(rs.list, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs.cancel = cancel
	rs.wg.Add(1 + len(rs.list))
	go func() { defer rs.wg.Done(); rs.every(ctx, rs.samplePrimary) }()
	for _, r := range rs.list {
		go func() { defer rs.wg.Done(); rs.every(ctx, r.probe) }()
	}
	return rs, nil
}

// Close stops the probers and closes the replicas' pools.
func (rs *Replicas) Close() error {
	if rs == nil {
		return nil
	}
	rs.cancel()
	rs.wg.Wait()
	return rs.closePools()
}

func (rs *Replicas) closePools() error {
	var errs []error
	for _, r := range rs.list {
		errs = append(errs, r.DB.Close())
	}
	return errors.Join(errs...)
}

// MaxLag is the lag above which a replica gets no reads.
func (rs *Replicas) MaxLag() time.Duration {
	if rs == nil {
		return DefaultReplicaMaxLag
	}
	return rs.opts.MaxLag
}

// Pick returns a usable replica, taking turns among them; nil when there
// is none (or rs is nil): the read goes to the primary.
func (rs *Replicas) Pick() *Replica {
	if rs == nil || len(rs.list) == 0 {
		return nil
	}
	start := rs.next.Add(1)
	for i := range uint64(len(rs.list)) {
		r := rs.list[(start+i)%uint64(len(rs.list))]
		if r.state.Load().usable(rs.opts.MaxLag) {
			return r
		}
	}
	return nil
}

// Status returns each replica's status, in configuration order.
func (rs *Replicas) Status() []ReplicaStatus {
	if rs == nil {
		return nil
	}
	out := make([]ReplicaStatus, len(rs.list))
	for i, r := range rs.list {
		out[i] = *r.state.Load()
	}
	return out
}

// Failed takes the replica out of rotation after a read met err on one of
// its connections: it gets reads again once a probe finds it answering.
func (r *Replica) Failed(err error) {
	prev := r.state.Load()
	r.state.Store(&ReplicaStatus{Name: r.Name, Err: err})
	if prev.Up && r.set.opts.Log != nil {
		r.set.opts.Log.Warn("replica down: a read failed on it; reads go elsewhere", "replica", r.Name, "err", err)
	}
}

// every runs fn now and then every probe interval until ctx ends.
func (rs *Replicas) every(ctx context.Context, fn func(context.Context)) {
	t := time.NewTicker(rs.opts.ProbeInterval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// samplePrimary records the primary's current WAL position.
func (rs *Replicas) samplePrimary(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, rs.opts.ProbeTimeout)
	defer cancel()
	sent := time.Now()
	var lsn int64
	err := rs.primary.QueryRowContext(ctx, "SELECT (pg_current_wal_lsn() - '0/0')::int8").Scan(&lsn)
	if err != nil {
		return // reads need the primary anyway; its own retries cover it
	}
	now := time.Now()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.samples = append(rs.samples, walSample{sent: sent, received: now, lsn: lsn})
	// Keep what can tell a lag up to MaxLag from a longer one.
	keepFrom := now.Add(-rs.opts.MaxLag - 2*rs.opts.ProbeInterval)
	drop := 0
	for drop < len(rs.samples)-1 && rs.samples[drop+1].received.Before(keepFrom) {
		drop++
	}
	rs.samples = rs.samples[drop:]
}

// probe reads the replica's replay position and updates its status.
func (r *Replica) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.set.opts.ProbeTimeout)
	defer cancel()
	var (
		standby bool
		replay  int64
	)
	err := r.DB.DB.QueryRowContext(ctx, "SELECT pg_is_in_recovery(), "+
		"coalesce((pg_last_wal_replay_lsn() - '0/0')::int8, -1)").Scan(&standby, &replay)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return // closing
	}
	if err == nil && !standby {
		err = errors.New("not a standby (pg_is_in_recovery() is false): it does not follow the primary")
	}
	next := &ReplicaStatus{Name: r.Name, Err: err}
	if err == nil {
		next.Up = true
		r.set.mu.Lock()
		next.Lag, next.Known = lagOf(r.set.samples, r.set.since, replay, time.Now(), r.set.opts.MaxLag)
		r.set.mu.Unlock()
	}
	prev := r.state.Swap(next)
	if log := r.set.opts.Log; log != nil && prev.Up != next.Up {
		if next.Up {
			log.Info("replica up", "replica", r.Name, "lag", next.Lag)
		} else {
			log.Warn("replica down: reads go elsewhere", "replica", r.Name, "err", err)
		}
	}
}

// lagOf measures a replica's lag from the primary's samples (oldest
// first; sampling began at since) and the replica's replay position: zero
// when it has replayed what the primary had at the last sample, else the
// time since the primary was first seen past it. known is false when the
// samples cannot tell yet (none, or the replica is behind all of them and
// they do not go back MaxLag yet).
func lagOf(samples []walSample, since time.Time, replay int64, now time.Time, maxLag time.Duration) (lag time.Duration, known bool) {
	if len(samples) == 0 {
		return 0, false
	}
	if replay >= samples[len(samples)-1].lsn {
		return 0, true
	}
	i := len(samples) - 1
	for i > 0 && samples[i-1].lsn > replay {
		i--
	}
	lag = max(now.Sub(samples[i].received), 0)
	if i == 0 && lag <= maxLag {
		// Behind every sample: the primary may have passed it long
		// before the first one, unless sampling has not run that long.
		if samples[0].sent.Sub(since) < maxLag {
			return lag, false
		}
		lag = max(lag, now.Sub(samples[0].sent))
	}
	return lag, true
}

// Redact returns a database URL's user, host, port and database, without
// its password or parameters, for messages and labels.
func Redact(dsn string) string {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return "(unparseable URL)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
