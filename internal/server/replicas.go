package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brickgallery/sets/internal/store"
)

// replicaCollector serves the series of reads by target and of the
// replicas' health and lag (SPEC §12), read from the store at each scrape.
type replicaCollector struct {
	stats                 func() store.RouteStats
	reads, up, lag, limit *prometheus.Desc
}

func newReplicaCollector(stats func() store.RouteStats) *replicaCollector {
	return &replicaCollector{
		stats: stats,
		reads: prometheus.NewDesc("sets_db_routed_reads_total",
			"Reads of a user's data by the database that answered them (replica or primary) and why: "+
				"fresh (a replica), no_replica (none usable), stale (the replica was behind the user's own writes), "+
				"replica_error (failed on the replica, read again on the primary), head_error.",
			[]string{"target", "reason"}, nil),
		up: prometheus.NewDesc("sets_db_replica_up",
			"1 while the replica answers its probes as a standby, 0 once a probe or a read fails on it.",
			[]string{"replica"}, nil),
		lag: prometheus.NewDesc("sets_db_replica_lag_seconds",
			"The replica's replay lag at its last probe: the time since the primary was first seen past its replay position.",
			[]string{"replica"}, nil),
		limit: prometheus.NewDesc("sets_db_replica_max_lag_seconds",
			"REPLICA_MAX_LAG: past this lag a replica gets no reads.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reads
	ch <- c.up
	ch <- c.lag
	ch <- c.limit
}

// Collect implements prometheus.Collector.
func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, r := range []struct {
		target, reason string
		n              int64
	}{
		{"replica", "fresh", st.Replica},
		{"primary", "no_replica", st.PrimaryNoReplica},
		{"primary", "stale", st.PrimaryStale},
		{"primary", "replica_error", st.PrimaryReplicaError},
		{"primary", "head_error", st.PrimaryHeadError},
	} {
		ch <- prometheus.MustNewConstMetric(c.reads, prometheus.CounterValue, float64(r.n), r.target, r.reason)
	}
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, st.MaxLag.Seconds())
	for _, r := range st.Replicas {
		up := 0.0
		if r.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, r.Name)
		if r.Up && r.Known {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, r.Lag.Seconds(), r.Name)
		}
	}
}
